;; The host functions sql.js 1.17.0's sql-wasm.wasm imports, as one wasm module. Emscripten
;; minified the import module to "a" and the names to single letters; the comment on each
;; function names the function the package's own glue (dist/sql-wasm.js, its `ld` object)
;; puts there. Just enough for an in-memory database: there is no file system (path calls
;; answer ENOENT, descriptor calls EBADF), no environment, and a clock that only counts,
;; so both runs of the benchmark see the same values. The memory is SQLite's own, imported
;; back from the dylib that holds it ("sqlite"), so this module must be added after it.
(module
  (import "sqlite" "O" (memory 1))

  ;; Emscripten's errno values (negative from __syscall_*, positive from the WASI calls).
  ;; EBADF 8, EINVAL 28, ENOENT 44, ENOSYS 52, ERANGE 68.

  ;; A virtual clock in milliseconds: each read advances it by one.
  (global $now (mut f64) (f64.const 1767225600000))
  (func $tick (result f64)
    (global.set $now (f64.add (global.get $now) (f64.const 1)))
    (global.get $now))

  ;; Bytes SQLite wrote through fd_write (to stderr, in practice): the output is dropped, its
  ;; length kept so a run can tell it was written to.
  (global $written (export "written") (mut i32) (i32.const 0))

  (func (export "a") (param i32 i32 i32 i32) unreachable)            ;; __assert_fail
  (func (export "b") (param i32 i32 i32) (result i32) i32.const -8)  ;; __syscall_fcntl64
  (func (export "c") (result f64) call $tick)                        ;; emscripten_get_now
  (func (export "d") (result f64) call $tick)                        ;; emscripten_date_now
  (func (export "e") (param i32) (result i32) i32.const 8)           ;; fd_close
  (func (export "f") (param i32))                                    ;; legacy extension-functions warning
  (func (export "g") (param i32 i32) (result i32) i32.const -8)      ;; __syscall_fstat64
  (func (export "h") (param i32 i32 i32) (result i32) i32.const -8)  ;; __syscall_fchown32
  (func (export "i") (param i32 i32) (result i32) i32.const -44)     ;; __syscall_chmod
  (func (export "j") (param i32 i32) (result i32) i32.const -8)      ;; __syscall_fchmod
  (func (export "k") (param i32 f64) (result i32) i32.const 0)       ;; _setitimer_js
  ;; emscripten_resize_heap: grow SQLite's memory to hold `requested` bytes (1 on success).
  (func (export "l") (param $requested i32) (result i32)
    (local $have i32)
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.le_u (local.get $requested) (local.get $have))
      (then (return (i32.const 1))))
    (i32.ne
      (memory.grow
        (i32.shr_u (i32.add (i32.sub (local.get $requested) (local.get $have)) (i32.const 65535)) (i32.const 16)))
      (i32.const -1)))
  (func (export "m") (param i32 i32) (result i32) i32.const 8)       ;; fd_fdstat_get
  (func (export "n") (param i32 i32 i32 i32) (result i32) i32.const -44) ;; __syscall_utimensat
  (func (export "o") (param i32 i32 i32) (result i32) i32.const -44) ;; __syscall_unlinkat
  (func (export "p") (result i32) i32.const -2147483648)             ;; emscripten_get_heap_max (2 GiB, unsigned)
  ;; fd_write(fd, iovs, iovs_len, nwritten): counts the bytes and reports them all written.
  (func (export "q") (param $fd i32) (param $iovs i32) (param $n i32) (param $nwritten i32) (result i32)
    (local $total i32)
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (i32.load offset=4 (local.get $iovs))))
        (local.set $iovs (i32.add (local.get $iovs) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $each)))
    (global.set $written (i32.add (global.get $written) (local.get $total)))
    (i32.store (local.get $nwritten) (local.get $total))
    (i32.const 0))
  (func (export "r") (param i32) (result i32) i32.const -44)         ;; __syscall_rmdir
  (func (export "s") (param i32 i32 i32 i32) (result i32) i32.const -44) ;; __syscall_readlinkat
  (func (export "t") (param i32 i32 i32 i32) (result i32) i32.const 8)   ;; fd_read
  (func (export "u") (param i32) unreachable)                        ;; proc_exit
  (func (export "v"))                                                ;; _emscripten_runtime_keepalive_clear
  (func (export "w") unreachable)                                    ;; _abort_js
  (func (export "x") (param i32 i32 i32 i32) (result i32) i32.const -44) ;; __syscall_openat
  (func (export "y") (param i32 i32 i32 i32 i64 i32 i32) (result i32) i32.const -52) ;; _mmap_js
  (func (export "z") (param i32 i32 i32 i32 i32 i64) (result i32) i32.const -52)     ;; _munmap_js
  ;; _localtime_js: no time zone data here; SQLite reports "local time unavailable".
  (func (export "A") (param i64 i32) (result i32) i32.const 1)
  ;; _tzset_js(timezone, daylight, std_name, dst_name): UTC, no daylight saving time.
  (func (export "B") (param $timezone i32) (param $daylight i32) (param $std i32) (param $dst i32)
    (i32.store (local.get $timezone) (i32.const 0))
    (i32.store (local.get $daylight) (i32.const 0))
    (i32.store (local.get $std) (i32.const 0x435455))   ;; "UTC\0", little-endian
    (i32.store (local.get $dst) (i32.const 0x435455)))
  (func (export "C") (param i32 i32 i32) (result i32) i32.const -44) ;; __syscall_mkdirat
  (func (export "D") (param i32 i32 i32 i32) (result i32) i32.const -44) ;; __syscall_faccessat
  (func (export "E") (param i32 i64 i32 i32) (result i32) i32.const 8)   ;; fd_seek
  (func (export "F") (result i32) i32.const 0)                       ;; the glue's `()=>0`
  (func (export "G") (param i32 i32) (result i32) i32.const 0)       ;; environ_get: nothing to copy
  ;; environ_sizes_get(count, size): an empty environment.
  (func (export "H") (param $count i32) (param $size i32) (result i32)
    (i32.store (local.get $count) (i32.const 0))
    (i32.store (local.get $size) (i32.const 0))
    (i32.const 0))
  ;; __syscall_getcwd(buf, size): "/".
  (func (export "I") (param $buf i32) (param $size i32) (result i32)
    (if (i32.lt_u (local.get $size) (i32.const 2)) (then (return (i32.const -68))))
    (i32.store16 (local.get $buf) (i32.const 0x2f))
    (i32.const 2))
  (func (export "J") (param i32 i64) (result i32) i32.const -8)      ;; __syscall_ftruncate64
  (func (export "K") (param i32) (result i32) i32.const 8)           ;; fd_sync
  (func (export "L") (param i32 i32 i32 i32) (result i32) i32.const -44) ;; __syscall_newfstatat
  (func (export "M") (param i32 i32) (result i32) i32.const -44)     ;; __syscall_lstat64
  (func (export "N") (param i32 i32) (result i32) i32.const -44)     ;; __syscall_stat64
)
