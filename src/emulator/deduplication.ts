import { isUid, newUid } from '../dhis2/uid.ts';
import { hasAuthority } from './auth.ts';
import { FieldSelector, pick, type FieldTable } from './fields.ts';
import { HttpError, json, readJson } from './http.ts';
import type { EmulatorUser, MetaTrackedEntityType, StoredPotentialDuplicate } from './model.ts';
import type { RenderContext } from './render.ts';
import { readPaging, type QueryContext } from './tracker.ts';

/**
 * DHIS2's deduplication workflow, `/api/potentialDuplicates` (2.37+: `original`/`duplicate`), and the
 * tracked entity type metadata a registry-wide search is bound by (`/api/trackedEntityTypes`).
 *
 * Per version (dhis2-core `DeduplicationController`): up to 2.40 the list takes `teis` and answers in the
 * metadata envelope (`pager` with totals); from 2.41 it takes `trackedEntities` and answers in the tracker
 * envelope (2.42: `prevPage`/`nextPage`, no totals). `status` filters the list (default OPEN; `ALL`).
 * A create checks both tracked entities exist and are readable (403 up to 2.41, 404 from 2.42, which no
 * longer tells an unreadable one from a missing one) and refuses a pair already recorded, in either order,
 * with 409. A status update takes OPEN or INVALID; MERGED is only reached by merging.
 */

const STATUSES = ['OPEN', 'INVALID', 'MERGED'] as const;
type Status = (typeof STATUSES)[number];

const potentialDuplicateFields: FieldTable<StoredPotentialDuplicate, RenderContext> = {
  id: (p) => p.id,
  created: (p, c) => c.time.format(p.created),
  lastUpdated: (p, c) => c.time.format(p.lastUpdated),
  createdByUserName: (p) => p.createdByUserName,
  lastUpdatedByUserName: (p) => p.lastUpdatedByUserName,
  original: (p) => p.original,
  duplicate: (p) => p.duplicate,
  status: (p) => p.status,
};

const DEFAULT_FIELDS = (minor: number) => (minor <= 40 ? '*' : 'id,created,lastUpdated,original,duplicate,status');

function readable(ctx: QueryContext, orgUnit: string): boolean {
  const roots = ctx.user.teiSearchOrganisationUnits.length
    ? ctx.user.teiSearchOrganisationUnits
    : ctx.user.organisationUnits;
  return hasAuthority(ctx.user, 'ALL') || ctx.state.isWithinAny(orgUnit, roots);
}

function statusParam(ctx: QueryContext, raw: string | null, allowAll: boolean): Status | 'ALL' {
  const valid = allowAll ? [...STATUSES, 'ALL'] : STATUSES;
  const upper = (raw ?? '').trim().toUpperCase();
  if (!(valid as readonly string[]).includes(upper))
    throw new HttpError(400, `Valid deduplication status are : ${[...STATUSES, 'ALL'].join(',')}`);
  return upper as Status | 'ALL';
}

function list(ctx: QueryContext): Response {
  const minor = ctx.version.minor;
  const p = ctx.params;
  const status = statusParam(ctx, p.get('status') ?? 'OPEN', true);
  const teParam = minor <= 40 ? p.get('teis') : (p.get('trackedEntities') ?? (minor === 41 ? p.get('teis') : null));
  const tes = new Set(
    (teParam ?? '')
      .split(/[,;]/)
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const all = [...ctx.state.potentialDuplicates.values()].filter(
    (d) => (status === 'ALL' || d.status === status) && (!tes.size || tes.has(d.original) || tes.has(d.duplicate)),
  );
  const paging = readPaging(ctx);
  const slice = paging.off ? all : all.slice((paging.page - 1) * paging.pageSize, paging.page * paging.pageSize);
  const sel = FieldSelector.parse(p.get('fields'), DEFAULT_FIELDS(minor));
  const items = slice.map((d) => pick(sel, potentialDuplicateFields, d, ctx));
  if (paging.off) return json(200, { potentialDuplicates: items });
  if (minor <= 40) {
    const pageCount = Math.max(1, Math.ceil(all.length / paging.pageSize));
    return json(200, {
      pager: { page: paging.page, pageCount, total: all.length, pageSize: paging.pageSize },
      potentialDuplicates: items,
    });
  }
  const pager: Record<string, unknown> = { page: paging.page, pageSize: paging.pageSize };
  if (minor >= 42) {
    const link = (n: number) => {
      const u = new URL(ctx.url);
      u.searchParams.set('page', String(n));
      return u.toString();
    };
    if (paging.page > 1) pager.prevPage = link(paging.page - 1);
    if (paging.page * paging.pageSize < all.length) pager.nextPage = link(paging.page + 1);
  }
  return json(200, { pager, potentialDuplicates: items });
}

function notFound(id: string): HttpError {
  return new HttpError(404, `No potentialDuplicate records found with id '${id}'.`);
}

async function create(ctx: QueryContext, req: Request, now: number, user: EmulatorUser): Promise<Response> {
  const minor = ctx.version.minor;
  const body = (await readJson(req)) as Record<string, unknown> | null;
  const field = (name: 'original' | 'duplicate'): string => {
    const v = body && typeof body === 'object' ? body[name] : undefined;
    if (v === undefined || v === null) throw new HttpError(400, `Missing required input property '${name}'`);
    if (typeof v !== 'string' || !isUid(v))
      throw new HttpError(400, `'${String(v)}' is not valid value for property '${name}'`);
    return v;
  };
  const original = field('original');
  const duplicate = field('duplicate');
  for (const uid of [original, duplicate]) {
    const te = ctx.state.trackedEntities.get(uid);
    const missing = new HttpError(
      404,
      minor >= 42 ? `No tracked entity found with id '${uid}'.` : `No tracked entity instance found with id '${uid}'.`,
    );
    if (!te || te.deleted) throw missing;
    if (!readable(ctx, te.orgUnit)) {
      if (minor >= 42) throw missing;
      throw new HttpError(403, `You don't have read access to '${uid}'.`);
    }
  }
  const exists = [...ctx.state.potentialDuplicates.values()].some(
    (d) =>
      (d.original === original && d.duplicate === duplicate) || (d.original === duplicate && d.duplicate === original),
  );
  if (exists) throw new HttpError(409, `'${original}' and '${duplicate} is already marked as a potential duplicate`);
  const record: StoredPotentialDuplicate = {
    id: newUid(),
    original,
    duplicate,
    status: 'OPEN',
    created: now,
    lastUpdated: now,
    createdByUserName: user.username,
    lastUpdatedByUserName: user.username,
  };
  ctx.state.potentialDuplicates.set(record.id, record);
  ctx.state.touch();
  return json(200, pick(FieldSelector.parse('*', '*'), potentialDuplicateFields, record, ctx));
}

function update(ctx: QueryContext, id: string, now: number, user: EmulatorUser): Response {
  const record = ctx.state.potentialDuplicates.get(id);
  const status = statusParam(ctx, ctx.params.get('status'), false) as Status;
  if (!record) throw notFound(id);
  if (status === 'MERGED') throw new HttpError(400, "Can't update a potential duplicate to MERGED");
  if (record.status === 'MERGED') throw new HttpError(400, "Can't update a potential duplicate that is already MERGED");
  record.status = status;
  record.lastUpdated = now;
  record.lastUpdatedByUserName = user.username;
  ctx.state.touch();
  return new Response(null, { status: 200 });
}

/** `/api/potentialDuplicates[/{id}]`: list, read, create, status update. Null for other paths. */
export async function routePotentialDuplicates(
  ctx: QueryContext,
  req: Request,
  segments: readonly string[],
): Promise<Response | null> {
  const [a, id, extra] = segments;
  if (a !== 'potentialDuplicates' || extra !== undefined) return null;
  const method = req.method.toUpperCase();
  if (!id && method === 'GET') return list(ctx);
  if (!id && method === 'POST') return create(ctx, req, ctx.now, ctx.user);
  if (id && method === 'GET') {
    const record = ctx.state.potentialDuplicates.get(id);
    if (!record) throw notFound(id);
    return json(200, pick(FieldSelector.parse(ctx.params.get('fields'), '*'), potentialDuplicateFields, record, ctx));
  }
  if (id && method === 'PUT') return update(ctx, id, ctx.now, ctx.user);
  return null;
}

const trackedEntityTypeFields: FieldTable<MetaTrackedEntityType, RenderContext> = {
  id: (t) => t.id,
  name: (t) => t.name,
  displayName: (t) => t.name,
  minAttributesRequiredToSearch: (t) => t.minAttributesRequiredToSearch,
  maxTeiCountToReturn: (t) => t.maxTeiCountToReturn,
  trackedEntityTypeAttributes: (t, c, child) => {
    const sel = child();
    return t.attributes.map((x) =>
      pick(
        sel,
        {
          searchable: (a: { id: string; searchable: boolean }) => a.searchable,
          trackedEntityAttribute: (a: { id: string }, cc: RenderContext, sub: () => FieldSelector) => {
            const meta = cc.state.metadata.attributes.get(a.id);
            return pick(
              sub(),
              {
                id: () => a.id,
                name: () => meta?.name,
                valueType: () => meta?.valueType,
                unique: () => meta?.unique === true,
              },
              a,
              cc,
            );
          },
        },
        x,
        c,
      ),
    );
  },
};

/** `GET /api/trackedEntityTypes[/{id}]` (metadata: `{id}` references unless nested fields are asked for). */
export function routeTrackedEntityTypes(ctx: QueryContext, segments: readonly string[]): Response | null {
  const [a, id, extra] = segments;
  if (a !== 'trackedEntityTypes' || extra !== undefined) return null;
  const sel = FieldSelector.parse(ctx.params.get('fields'), id ? '*' : 'id,displayName');
  if (id) {
    const type = ctx.state.metadata.trackedEntityTypes.get(id);
    if (!type) throw new HttpError(404, `TrackedEntityType with id ${id} could not be found.`, { errorCode: 'E1005' });
    return json(200, pick(sel, trackedEntityTypeFields, type, ctx));
  }
  const all = [...ctx.state.metadata.trackedEntityTypes.values()];
  return json(200, {
    pager: { page: 1, pageCount: 1, total: all.length, pageSize: 50 },
    trackedEntityTypes: all.map((t) => pick(sel, trackedEntityTypeFields, t, ctx)),
  });
}
