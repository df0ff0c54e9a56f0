/** The app's pages by location.hash: #/inbox, #/message/<uid>, #/compose, #/search. */
export type Route = { page: 'inbox' } | { page: 'compose' } | { page: 'search' } | { page: 'message'; uid: string };

export function currentRoute(hash = location.hash): Route {
  const m = /^#\/message\/(.+)$/.exec(hash);
  if (m) {
    try {
      return { page: 'message', uid: decodeURIComponent(m[1]!) };
    } catch {
      return { page: 'inbox' };
    }
  }
  if (hash === '#/compose') return { page: 'compose' };
  if (hash === '#/search') return { page: 'search' };
  return { page: 'inbox' };
}

export const messageHash = (uid: string): string => `#/message/${encodeURIComponent(uid)}`;
