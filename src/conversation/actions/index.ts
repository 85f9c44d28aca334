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
 * A capability's contribution to the conversation engine: named actions, guards, validators and roles
 * for its flows, and loaders for the data names those flows declare (`data:` in a flow file).
 */
export interface DomainModule {
  name: string;
  parts: (deployment: Deployment) => RegistryParts;
  loaders: Record<string, Loader>;
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
    const entries = await Promise.all(
      names.map(async (n) => {
        const l = loaders.get(n);
        return [n, l ? await l({ store, deployment, ...ctx }) : undefined] as const;
      }),
    );
    return Object.fromEntries(entries);
  };
}
