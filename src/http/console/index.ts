export { ConsoleSessions, type ConsoleSession, type ConsoleSessionOptions } from './sessions.js';
export { registerConsole, type ConsoleRouteOptions } from './routes.js';
export { cookieVerdict, type CookieVerdict } from './session-auth.js';
export { CONSOLE_CSP, setConsoleHeaders } from './headers.js';
export { SESSION_COOKIE, readCookie, sessionCookie } from './cookie.js';
export { builtWebApp } from './web-root.js';
