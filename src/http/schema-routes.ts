/** Schema routes (docs/protocol.md, "Schema stores"): GET/PUT /api/stores/:store/schema with the store key (or the admin key). */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { StoreView } from '../plugin/stage.js';
import { schemaJson, type SchemaService } from '../stores/schema-service.js';
import { storeAuth } from './auth.js';
import { readJsonObject } from '../plugin/kit/http-body.js';
import { sendJson, type RouteDeps } from './store-routes.js';

const SCHEMA_BODY_LIMIT = 1024 * 1024;

export function registerSchemaRoutes(router: Router, deps: RouteDeps, schemas: SchemaService): void {
  const auth = storeAuth(deps.catalog, deps.adminKey);
  const store = (ctx: Context): string => (ctx.state.store as StoreView).name;

  router.get('/api/stores/:store/schema', auth, (ctx) => {
    sendJson(ctx, 200, schemaJson(schemas.get(store(ctx))));
  });

  router.put('/api/stores/:store/schema', auth, async (ctx) => {
    const body = await readJsonObject(ctx, SCHEMA_BODY_LIMIT, 'a schema object {"fields":[...]}');
    const { schema } = await schemas.set(store(ctx), body);
    sendJson(ctx, 200, schemaJson(schema));
  });
}
