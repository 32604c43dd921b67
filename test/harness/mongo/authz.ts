/**
 * Users, roles and privileges of the stand-in, modelled on MongoDB's: a user holds roles,
 * a role grants privileges (actions on a resource) and may inherit other roles. Built-in
 * roles `read`, `readAnyDatabase`, `clusterMonitor` and `root` are known; others come from
 * the fixture.
 */

/** A resource: a database (`collection: ''` for all of its collections), every database (`db: ''`), or the cluster. */
export type Resource = { db: string; collection: string } | { cluster: true } | { anyResource: true };

export interface Privilege {
  resource: Resource;
  actions: string[];
}

export interface RoleRef {
  role: string;
  db: string;
}

/** A user-defined role, as createRole takes it. */
export interface RoleDefinition extends RoleRef {
  privileges: Privilege[];
  roles: RoleRef[];
}

/** A user, as createUser takes it (the password is turned into SCRAM credentials by the stand-in). */
export interface UserDefinition {
  user: string;
  /** The database the user is defined in (the authentication database). */
  db: string;
  password: string;
  roles: RoleRef[];
}

/** The actions of the built-in `read` role. */
export const READ_ACTIONS = ['changeStream', 'collStats', 'dbHash', 'dbStats', 'find', 'killCursors', 'listCollections', 'listIndexes', 'listSearchIndexes'];

function builtinPrivileges(ref: RoleRef): Privilege[] | undefined {
  switch (ref.role) {
    case 'read':
      return [{ resource: { db: ref.db, collection: '' }, actions: READ_ACTIONS }];
    case 'readAnyDatabase':
      return [
        { resource: { db: '', collection: '' }, actions: READ_ACTIONS },
        { resource: { cluster: true }, actions: ['listDatabases'] },
      ];
    case 'clusterMonitor':
      return [{ resource: { cluster: true }, actions: ['inprog', 'serverStatus', 'listDatabases', 'connPoolStats'] }];
    case 'root':
      return [
        { resource: { anyResource: true }, actions: ['anyAction'] },
        { resource: { cluster: true }, actions: ['anyAction'] },
      ];
    default:
      return undefined;
  }
}

/** What an authenticated user may do: its roles (transitively) and privileges. */
export class Grants {
  readonly roles: RoleRef[] = [];
  readonly privileges: Privilege[] = [];

  constructor(direct: RoleRef[], defined: RoleDefinition[]) {
    const seen = new Set<string>();
    const visit = (ref: RoleRef) => {
      const key = `${ref.db}.${ref.role}`;
      if (seen.has(key)) return;
      seen.add(key);
      this.roles.push(ref);
      const builtin = builtinPrivileges(ref);
      if (builtin) {
        this.privileges.push(...builtin);
        return;
      }
      const role = defined.find((r) => r.role === ref.role && r.db === ref.db);
      if (!role) return;
      this.privileges.push(...role.privileges);
      role.roles.forEach(visit);
    };
    direct.forEach(visit);
  }

  private covers(resource: Resource, db: string | undefined, collection: string | undefined): boolean {
    if ('anyResource' in resource) return true;
    if ('cluster' in resource) return db === undefined;
    if (db === undefined) return false;
    if (resource.db !== '' && resource.db !== db) return false;
    if (collection === undefined) return resource.collection === '';
    return resource.collection === '' || resource.collection === collection;
  }

  /** Whether the user may run `action` on a collection, a database (no collection) or the cluster (no database). */
  can(action: string, db?: string, collection?: string): boolean {
    return this.privileges.some((p) => (p.actions.includes(action) || p.actions.includes('anyAction')) && this.covers(p.resource, db, collection));
  }

  /** Whether the user holds any privilege in a database (what listDatabases with authorizedDatabases shows). */
  anyInDatabase(db: string): boolean {
    return this.privileges.some((p) => 'anyResource' in p.resource || ('db' in p.resource && (p.resource.db === '' || p.resource.db === db)));
  }

  /** Whether the user holds any privilege on a collection (what listCollections with authorizedCollections shows). */
  anyOnCollection(db: string, collection: string): boolean {
    return this.privileges.some(
      (p) =>
        'anyResource' in p.resource ||
        ('db' in p.resource && (p.resource.db === '' || p.resource.db === db) && (p.resource.collection === '' || p.resource.collection === collection)),
    );
  }
}
