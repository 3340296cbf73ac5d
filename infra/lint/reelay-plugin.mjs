/**
 * Reelay's own lint rules. `no-db-in-apps`: apps/ hold HTTP, processors and CLI only; every SQL
 * or Prisma call lives in packages/db, so the apps reach the database through its functions.
 * Syntactic on purpose (no type information): it matches the shapes Prisma and pg calls take.
 */

/** Prisma client members that run SQL or open a transaction. */
const RAW_MEMBERS = new Set(['$queryRaw', '$queryRawUnsafe', '$executeRaw', '$executeRawUnsafe', '$transaction']);
/** Prisma model delegate methods (`db.task.findMany(...)`). */
const MODEL_METHODS = new Set([
  'findFirst',
  'findFirstOrThrow',
  'findUnique',
  'findUniqueOrThrow',
  'findMany',
  'create',
  'createMany',
  'createManyAndReturn',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'delete',
  'deleteMany',
  'upsert',
  'count',
  'aggregate',
  'groupBy',
]);
/** Names a Prisma client, transaction client or pg pool goes by. */
const CLIENT_NAME = /^(db|tx|prisma|pool|pg|pgPool|client)$/;
/** Modules only packages/db may import. */
const FORBIDDEN_MODULE = /^(pg|pg-pool|@prisma\/client(\/.*)?|@prisma\/adapter-pg)$|\/generated\/prisma(\/|$)/;

const propertyName = (member) => (!member.computed && member.property.type === 'Identifier' ? member.property.name : null);

/** `db`, `tx`, `ctx.db`, `deps.prisma`, `this.pool`: an expression that names a client. */
function namesClient(node) {
  if (node.type === 'Identifier') return CLIENT_NAME.test(node.name);
  if (node.type === 'MemberExpression') return CLIENT_NAME.test(propertyName(node) ?? '');
  return false;
}

const noDbInApps = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid Prisma client and SQL calls outside packages/db' },
    schema: [],
    messages: {
      raw: '`{{name}}` runs SQL: move it into a packages/db function and call that.',
      model: '`{{model}}.{{method}}` is a Prisma query: move it into a packages/db function and call that.',
      query: '`.query()` on a database client runs SQL: move it into a packages/db function and call that.',
      module: "'{{source}}' is a database driver: only packages/db imports it.",
    },
  },
  create(context) {
    const checkSource = (node, source) => {
      if (typeof source === 'string' && FORBIDDEN_MODULE.test(source)) context.report({ node, messageId: 'module', data: { source } });
    };
    return {
      MemberExpression(node) {
        const name = propertyName(node);
        if (name === null) return;
        if (RAW_MEMBERS.has(name)) return context.report({ node, messageId: 'raw', data: { name } });
        // <client>.<model>.<method>, e.g. ctx.db.task.findMany
        const model = node.object;
        if (MODEL_METHODS.has(name) && model.type === 'MemberExpression' && propertyName(model) && namesClient(model.object)) {
          context.report({ node, messageId: 'model', data: { model: propertyName(model), method: name } });
        }
      },
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type === 'MemberExpression' && propertyName(callee) === 'query' && namesClient(callee.object)) {
          context.report({ node, messageId: 'query' });
        }
        if (callee.type === 'Identifier' && callee.name === 'require') checkSource(node, node.arguments[0]?.value);
      },
      ImportDeclaration: (node) => checkSource(node, node.source.value),
      ImportExpression: (node) => checkSource(node, node.source.value),
      ExportAllDeclaration: (node) => checkSource(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && checkSource(node, node.source.value),
    };
  },
};

export default {
  meta: { name: 'reelay' },
  rules: { 'no-db-in-apps': noDbInApps },
};
