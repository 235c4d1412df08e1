// Only what lanes' sources call (`z.NAME(...)`), so the bundler can leave out the rest of zod
// (its ~40 locales alone are half of the file). A new `z.NAME` in the sources needs adding here;
// the build fails with "not a function" in the tests otherwise.
import {
  array,
  boolean,
  enum as enumOf,
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

export const z = {
  array,
  boolean,
  enum: enumOf,
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
};
