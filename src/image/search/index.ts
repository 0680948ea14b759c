// Searching the dumped memory of an image for text, hex bytes or a regular expression.

export { searchMemory, searchAll, imageSearchTarget } from './searchMemory';
export type { SearchTarget, SearchHit, SearchOptions, SearchProgress, SearchResult, SearchEnd } from './searchMemory';
export { compileQuery, parseHexPattern, SearchPatternError, DEFAULT_MAX_MATCH } from './pattern';
export type { SearchQuery, SearchMode, Matcher } from './pattern';
