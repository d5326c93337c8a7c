import type { FileFolder } from '../formats/folder.js';

/** A model folder served over HTTP(S): files are fetched relative to a base URL. */
export class UrlFolder implements FileFolder {
  readonly location: string;

  constructor(baseUrl: string) {
    this.location = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  }

  async has(name: string): Promise<boolean> {
    try {
      const response = await fetch(this.describe(name), { method: 'HEAD' });
      return response.ok;
    } catch {
      return false;
    }
  }

  async read(name: string): Promise<Uint8Array> {
    const url = this.describe(name);
    let response: Response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(`${url}: cannot fetch it (${(error as Error).message})`);
    }
    if (response.status === 404) throw new Error(`${url}: no such file (HTTP 404)`);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  describe(name: string): string {
    return new URL(name, new URL(this.location, (globalThis as { location?: { href: string } }).location?.href)).href;
  }
}
