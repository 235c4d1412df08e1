#!/usr/bin/env node
// Tiny launcher: everything lives in dist/. Kept free of imports so `lanes --version` stays fast.
import("../dist/cli/main.js");
