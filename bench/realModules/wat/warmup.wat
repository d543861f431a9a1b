;; The module that wakes a freshly started server before a timed run (bench.ts), so the run
;; measures a running service rather than one whose own code paths are still cold: a binary
;; added lazily with a memory, a global, a table with an element segment, a data segment, a
;; start function and a function import from a module added after it (as SQLite's host
;; module is), in a dylib named as newer wasm-bindgen names its import module (a path, so
;; percent-encoded in URLs); calls that compile bodies, one loop that makes a callee hot
;; enough to be re-optimized, memory.grow, memory written and read, a global read. It shares
;; no code with the benchmarked modules, so nothing it compiles can serve them.
(module
  (import "./warmup_bg.js" "poke" (func $poke (param i32 i32) (result i32)))
  (type $unary (func (param i32) (result i32)))
  (memory (export "mem") 2)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $square $cube $inc $dec)
  (data (i32.const 64) "warm-up")
  (start $init)

  (func $init (global.set $counter (i32.const 7)))
  (func $square (type $unary) (i32.mul (local.get 0) (local.get 0)))
  (func $cube (type $unary) (i32.mul (local.get 0) (call $square (local.get 0))))
  (func $inc (type $unary) (i32.add (local.get 0) (i32.const 1)))
  (func $dec (type $unary) (i32.sub (local.get 0) (i32.const 1)))
  (func $step (param $i i32) (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (call_indirect (type $unary) (local.get $i) (i32.and (local.get $i) (i32.const 3))))

  ;; Sum of step(i) for i < n, each also stored into memory at 1024 + 4 * (i & 255).
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $v i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (call $step (local.get $i)))
        (i32.store offset=1024 (i32.shl (i32.and (local.get $i) (i32.const 255)) (i32.const 2)) (local.get $v))
        (local.set $acc (i32.add (local.get $acc) (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; Sum of the bytes at [ptr, ptr + len).
  (func (export "sum") (param $ptr i32) (param $len i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $acc (i32.add (local.get $acc) (i32.load8_u (local.get $ptr))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  (func (export "grow") (result i32) (memory.grow (i32.const 1)))

  ;; The high and low halves of x * x as a 64-bit product, folded into 32 bits.
  (func (export "wide") (param $x i32) (result i32)
    (local $p i64)
    (local.set $p (i64.mul (i64.extend_i32_u (local.get $x)) (i64.extend_i32_u (local.get $x))))
    (i32.xor (i32.wrap_i64 (local.get $p)) (i32.wrap_i64 (i64.shr_u (local.get $p) (i64.const 32)))))

  (func (export "viaHost") (param $addr i32) (result i32) (call $poke (local.get $addr) (i32.const 42)))
)
