/**
 * Loads the dashboard's browser modules (plain ES modules with JSDoc, no TypeScript types) in
 * Node for unit tests. Imported by URL so the type checker does not look for declarations.
 */
const APP = new URL('../../collector/dashboard/static/app/', import.meta.url);

export async function loadBrowserModule(name: string): Promise<any> {
  return import(new URL(name, APP).href);
}
