// JSON value types, at the bottom so that every layer (spec, store, jobs) can name them without importing
// each other.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
