/** Bind groups held beyond this many are all dropped (they are cheap to make again). */
const MAX_ENTRIES = 4096;

/**
 * Bind groups by layout and resources, reused across dispatches. Making one costs ~60 us of the
 * main thread through Dawn's Node bindings, most of what recording a dispatch costs, and a
 * training step binds the same buffers in the same pattern step after step (the pool lends them
 * in the same order), so nearly every lookup after the first step hits. Uniform values do not
 * enter the key: their buffers are bound with a dynamic offset. A destroyed buffer is never bound
 * again, so a group that names one is never hit again either; it goes when the cache is emptied.
 */
export class BindGroupCache {
  private readonly groups = new Map<GPUBindGroupLayout, Map<string, GPUBindGroup>>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private held = 0;

  constructor(private readonly device: GPUDevice) {}

  /** The bind group of `layout` with these entries (in the kernel's binding order), made on first use. */
  get(layout: GPUBindGroupLayout, entries: GPUBindGroupEntry[], label: string): GPUBindGroup {
    const key = entries.map((entry) => this.resourceKey(entry.resource)).join(' ');
    let byResources = this.groups.get(layout);
    const cached = byResources?.get(key);
    if (cached) return cached;
    if (this.held >= MAX_ENTRIES) {
      this.groups.clear();
      this.held = 0;
      byResources = undefined;
    }
    const group = this.device.createBindGroup({ layout, entries, label });
    if (!byResources) this.groups.set(layout, (byResources = new Map()));
    byResources.set(key, group);
    this.held++;
    return group;
  }

  private resourceKey(resource: GPUBindingResource): string {
    if ('buffer' in resource) return `${this.id(resource.buffer)}@${resource.offset ?? 0}+${resource.size ?? 'all'}`;
    return `${this.id(resource)}`;
  }

  private id(object: object): number {
    let id = this.ids.get(object);
    if (id === undefined) this.ids.set(object, (id = this.nextId++));
    return id;
  }
}
