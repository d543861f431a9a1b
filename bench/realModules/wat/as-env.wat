;; The one import of @chainsafe/as-sha256 1.2.5's build/optimized.wasm (AssemblyScript):
;; env.abort(message, fileName, line, column), which AssemblyScript calls on a failed
;; assertion or an out-of-range access. The package's glue throws; a trap does the same here.
(module
  (func (export "abort") (param i32 i32 i32 i32) unreachable)
)
