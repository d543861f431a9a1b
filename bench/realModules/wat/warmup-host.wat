;; The warm-up's host module (see warmup.wat): imports the warm-up module's memory back from
;; its dylib, as SQLite's host module does, and gives it one function to call.
(module
  (import "warm" "mem" (memory 1))
  (func (export "poke") (param $addr i32) (param $value i32) (result i32)
    (i32.store8 (local.get $addr) (local.get $value))
    (i32.load8_u (local.get $addr)))
)
