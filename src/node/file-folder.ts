import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileFolder } from '../formats/folder.js';

/** A directory on disk as a FileFolder. */
export class DirectoryFolder implements FileFolder {
  constructor(readonly location: string) {}

  async has(name: string): Promise<boolean> {
    try {
      return (await stat(this.describe(name))).isFile();
    } catch {
      return false;
    }
  }

  async read(name: string): Promise<Uint8Array> {
    const path = this.describe(name);
    try {
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(`${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  }

  describe(name: string): string {
    return join(this.location, name);
  }
}
