// wgsl_reflect's package "main" is a CommonJS file in a "type": "module" package, so Node's ESM
// loader sees no exports there; its ES module build is imported directly instead.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
