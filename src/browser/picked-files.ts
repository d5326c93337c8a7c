import type { FileFolder } from '../formats/folder.js';

/**
 * The Files of a folder a visitor picked (<input type=file webkitdirectory>) or dropped, matched
 * by their base names; the folder's own name (from webkitRelativePath) names them in messages.
 */
export class PickedFilesFolder implements FileFolder {
  readonly location: string;
  private readonly byName = new Map<string, File>();

  constructor(files: Iterable<File>) {
    let folderName = '';
    for (const file of files) {
      const relative = (file as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
      const depth = relative.split('/').length;
      // Files of the folder itself win over files of the same name in its subfolders.
      const existing = this.byName.get(file.name);
      const existingDepth = existing ? ((existing as File & { webkitRelativePath?: string }).webkitRelativePath ?? '').split('/').length : Infinity;
      if (depth <= existingDepth) this.byName.set(file.name, file);
      if (folderName === '' && relative.includes('/')) folderName = relative.slice(0, relative.indexOf('/'));
    }
    this.location = folderName || 'the picked files';
  }

  async has(name: string): Promise<boolean> {
    return this.byName.has(name);
  }

  async read(name: string): Promise<Uint8Array> {
    const file = this.byName.get(name);
    if (!file) throw new Error(`${this.describe(name)}: no such file among the picked files`);
    try {
      return new Uint8Array(await file.arrayBuffer());
    } catch (error) {
      throw new Error(`${this.describe(name)}: cannot read it (${(error as Error).message})`);
    }
  }

  describe(name: string): string {
    return this.location === 'the picked files' ? name : `${this.location}/${name}`;
  }
}
