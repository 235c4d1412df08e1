// Only what lanes' sources call (`z.NAME(...)`), so the bundler can leave out the rest of zod
// (its ~40 locales alone are half of the file). The built files import this module as the
// namespace `z` (scripts/vendor-zod.mjs). A new `z.NAME` in the sources needs adding here; the
// tests fail with "not a function" otherwise.
export {
  array,
  boolean,
  enum,
  literal,
  looseObject,
  number,
  object,
  record,
  strictObject,
  string,
  union,
  unknown,
  url,
} from "zod";
