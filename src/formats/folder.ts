/**
 * A folder of model or data files read by name. Node reads a directory (src/node), a browser
 * fetches from a base URL or reads the Files a visitor picked (src/browser); every parser below
 * takes the bytes and never learns where they came from.
 */
export interface FileFolder {
  /** Where the folder is, for messages: a directory path or a base URL. */
  readonly location: string;
  /** Whether the folder holds `name`. */
  has(name: string): Promise<boolean>;
  /** The whole file; rejects with an Error naming it (see `describe`) when it is absent or unreadable. */
  read(name: string): Promise<Uint8Array>;
  /** How `name` appears in messages: the file's path or URL. */
  describe(name: string): string;
}
