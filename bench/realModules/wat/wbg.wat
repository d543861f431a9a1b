;; The "wbg" imports of @jsquash/png 3.1.1's squoosh_png_bg.wasm (built by a wasm-bindgen that
;; still named the import module "wbg" rather than "./squoosh_png_bg.js"), as one wasm module.
;; wasm-bindgen passes JavaScript objects as indices into a heap table of the glue; here only
;; the one object decode builds (an ImageData) is needed, and it is kept as four globals the
;; driver reads: where the decoded pixels are, how many bytes, and the image's size. The
;; driver copies the pixels out and frees them, as the glue does. encode imports nothing it
;; calls; decode_rgba16 (the only user of the memory and typed-array imports) is not run.
(module
  (global $pixels (export "pixels") (mut i32) (i32.const 0))
  (global $bytes (export "bytes") (mut i32) (i32.const 0))
  (global $width (export "width") (mut i32) (i32.const 0))
  (global $height (export "height") (mut i32) (i32.const 0))
  ;; Heap indices below 132 are the glue's reserved slots; new objects start there.
  (global $next (mut i32) (i32.const 132))

  (func (export "__wbindgen_memory") (result i32) unreachable)
  (func (export "__wbg_buffer_a448f833075b71ba") (param i32) (result i32) unreachable)
  (func (export "__wbg_newwithbyteoffsetandlength_099217381c451830") (param i32 i32 i32) (result i32) unreachable)
  (func (export "__wbindgen_object_drop_ref") (param i32))
  ;; new ImageData(pixels[ptr..ptr+len], width, height)
  (func (export "__wbg_newwithownedu8clampedarrayandsh_91db5987993a08fb")
    (param $ptr i32) (param $len i32) (param $w i32) (param $h i32) (result i32)
    (global.set $pixels (local.get $ptr))
    (global.set $bytes (local.get $len))
    (global.set $width (local.get $w))
    (global.set $height (local.get $h))
    (global.set $next (i32.add (global.get $next) (i32.const 1)))
    (i32.sub (global.get $next) (i32.const 1)))
  ;; Rust's panic message would be a string at (ptr, len); a trap carries the failure instead.
  (func (export "__wbindgen_throw") (param i32 i32) unreachable)
)
