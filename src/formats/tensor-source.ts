/** What the HuggingFace loader needs of a weights file, whichever format it came in. */
export interface TensorInfo {
  name: string;
  /** The format's own dtype name (safetensors 'F32', PyTorch 'FloatStorage', ...). */
  dtype: string;
  shape: number[];
}

export interface TensorSource {
  /** The file's name in messages. */
  readonly source: string;
  readonly tensors: readonly TensorInfo[];
  get(name: string): TensorInfo | undefined;
  /** A floating-point tensor's values as float32 (row-major); throws naming the file for other dtypes. */
  readFloat32(name: string): Float32Array;
}
