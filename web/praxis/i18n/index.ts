import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { de, type Dict } from './de.js';
import { en } from './en.js';

/** German first; English by the toggle, remembered in localStorage. */
export type Lang = 'de' | 'en';
export const DICTS: Record<Lang, Dict> = { de, en };
const KEY = 'praxis.lang';

export function storedLang(): Lang {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'de';
  } catch {
    return 'de';
  }
}

/** Remembers the choice and sets <html lang>, so screen readers speak the right language. */
export function applyLang(lang: Lang): void {
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    // Storage may be off (private mode); the choice then lasts for this page only.
  }
  document.documentElement.lang = lang;
}

export const LangContext = createContext<{ lang: Lang; t: Dict }>({ lang: 'de', t: de });
export const useT = (): Dict => useContext(LangContext).t;
export const useLang = (): Lang => useContext(LangContext).lang;
export type { Dict };
