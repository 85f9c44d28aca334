import type { Channel } from '../../channels/types.ts';
import type { Deployment } from '../../dhis2/deployment.ts';
import type { Store } from '../../store/types.ts';
import { createRegistry, type Registry, type RegistryParts } from '../registry.ts';
import type { DataLoader } from '../runner.ts';

/** What a data loader may use: the read model (never DHIS2 directly: a USSD hop must not wait on it). */
export interface LoaderContext {
  store: Store;
  phone: string;
  channel: Channel;
  now: Date;
  deployment: Deployment;
  /** The caller's variables on a flow, as the runner gives them (see {@link DataLoader}). */
  vars?: (flowId: string) => Readonly<Record<string, unknown>>;
}

export type Loader = (ctx: LoaderContext) => Promise<unknown>;

/**
 * The store keys (`getJson` documents) a loader reads first for a caller, so the runner can read them with
 * the session in one round trip on a new dial. Only a hint: what a loader reads beyond them it reads itself.
 */
export type LoaderKeys = (ctx: { phone: string; channel: Channel }) => string[];

/**
 * A capability's contribution to the conversation engine: named actions, guards, validators and roles
 * for its flows, and loaders for the data names those flows declare (`data:` in a flow file).
 */
export interface DomainModule {
  name: string;
  parts: (deployment: Deployment) => RegistryParts;
  loaders: Record<string, Loader>;
  /** For some loaders, the keys they read first ({@link LoaderKeys}). */
  loaderKeys?: Record<string, LoaderKeys>;
}

/** The engine registry with every capability's parts merged over the built-ins. */
export function createDomainRegistry(deployment: Deployment, modules: readonly DomainModule[]): Registry {
  const merged: Required<Pick<RegistryParts, 'actions' | 'guards' | 'validators' | 'roles'>> & { data: string[] } = {
    actions: {},
    guards: {},
    validators: {},
    roles: {},
    data: [],
  };
  for (const m of modules) {
    const p = m.parts(deployment);
    Object.assign(merged.actions, p.actions);
    Object.assign(merged.guards, p.guards);
    Object.assign(merged.validators, p.validators);
    Object.assign(merged.roles, p.roles);
    merged.data.push(...(p.data ?? []), ...Object.keys(m.loaders));
  }
  return createRegistry(merged);
}

/** The runner's data loader: each requested name from the capability that declared it, in parallel. */
export function createDataLoader(store: Store, deployment: Deployment, modules: readonly DomainModule[]): DataLoader {
  const loaders = new Map<string, Loader>();
  for (const m of modules) for (const [name, l] of Object.entries(m.loaders)) loaders.set(name, l);
  return async (names, ctx) => {
    if (names.length === 0) return {};
    const { docs, ...rest } = ctx;
    const source = docs && docs.size > 0 ? withDocs(store, docs) : store;
    const entries = await Promise.all(
      names.map(async (n) => {
        const l = loaders.get(n);
        return [n, l ? await l({ store: source, deployment, ...rest }) : undefined] as const;
      }),
    );
    return Object.fromEntries(entries);
  };
}

/** The keys the loaders of `names` read first, for the runner to read with the lock (each key once). */
export function createLoaderKeys(
  modules: readonly DomainModule[],
): (names: readonly string[], ctx: { phone: string; channel: Channel }) => string[] {
  const byName = new Map<string, LoaderKeys>();
  for (const m of modules) for (const [name, f] of Object.entries(m.loaderKeys ?? {})) byName.set(name, f);
  return (names, ctx) => [...new Set(names.flatMap((n) => byName.get(n)?.(ctx) ?? []))];
}

/**
 * The store as a loader sees it within one hop: documents already read with the lock are answered from
 * `docs`, everything else from the store. Read-only documents of the same instant, so the loader cannot tell.
 */
function withDocs(store: Store, docs: ReadonlyMap<string, unknown>): Store {
  return {
    ...store,
    async getJson<T>(key: string): Promise<T | null> {
      return docs.has(key) ? (docs.get(key) as T | null) : store.getJson<T>(key);
    },
    async getJsonMany<T>(keys: string[]): Promise<Array<T | null>> {
      const missing = keys.filter((k) => !docs.has(k));
      const fetched = missing.length > 0 ? await store.getJsonMany<T>(missing) : [];
      const got = new Map(missing.map((k, i) => [k, fetched[i] ?? null]));
      return keys.map((k) => (docs.has(k) ? (docs.get(k) as T | null) : (got.get(k) ?? null)));
    },
  };
}
