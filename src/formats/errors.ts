/** Bytes from outside (a model file) that are not what their format promises; the message names the file. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}
