/** The audit trail against tampering: each cut, edit and forgery is detected; a crash's partial line never blocks work. */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonical } from "../../src/core/canonical.js";
import { gitRepo, lanes, tempHome } from "../helpers/cli.js";

const TIERS = `tiers:
  standard:
    endpoints: [{ id: hosted, baseURL: "http://127.0.0.1:1/v1", model: gpt-4.1-mini }]
`;

/** A project with three plan records in its trail. */
async function trail(extraEnv: NodeJS.ProcessEnv = {}) {
  const home = tempHome();
  const repo = gitRepo(home.dir, "repo", { "a.txt": "a\n" });
  writeFileSync(join(repo, "lanes.yaml"), TIERS);
  const env = { ...home.env, LANES_USER: "ana", ...extraEnv } as NodeJS.ProcessEnv;
  for (let i = 0; i < 3; i++)
    expect((await lanes(["plan", `task ${i}`, "--lane", "eval"], { cwd: repo, env })).code).toBe(0);
  const file = join(env.LANES_HOME!, "audit.jsonl");
  const verify = async (...args: string[]) => {
    const r = await lanes(["audit", "verify", "--json", ...args], { cwd: repo, env });
    return { code: r.code, ...JSON.parse(r.stdout) };
  };
  const lines = () => readFileSync(file, "utf8").split("\n").filter(Boolean);
  return { repo, env, file, verify, lines };
}

describe("lanes audit verify", () => {
  it("passes on an intact trail and reports the anchored head", async () => {
    const t = await trail();
    expect(await t.verify()).toMatchObject({ code: 0, ok: true, records: 3, anchored: { seq: 3 } });
  });

  it.each([
    [
      "truncated to its first record",
      (t: Awaited<ReturnType<typeof trail>>) => writeFileSync(t.file, `${t.lines()[0]}\n`),
      /ends at #1 but the ledger's anchor says #3: it was truncated/,
    ],
    [
      "emptied",
      (t: Awaited<ReturnType<typeof trail>>) => writeFileSync(t.file, ""),
      /the audit trail is empty, but the ledger's anchor says it held 3 records/,
    ],
    ["deleted", (t: Awaited<ReturnType<typeof trail>>) => rmSync(t.file), /the audit trail is missing/],
    [
      "missing a middle line",
      (t: Awaited<ReturnType<typeof trail>>) => writeFileSync(t.file, `${[t.lines()[0], t.lines()[2]].join("\n")}\n`),
      /#3 follows #1: a record was removed/,
    ],
    [
      "changed by one byte",
      (t: Awaited<ReturnType<typeof trail>>) =>
        writeFileSync(
          t.file,
          `${t
            .lines()
            .map((l, i) => (i === 1 ? l.replace('"lane":"eval"', '"lane":"evaL"') : l))
            .join("\n")}\n`,
        ),
      /was changed/,
    ],
  ])("detects a trail %s (exit 1)", async (_, tamper, reason) => {
    const t = await trail();
    tamper(t);
    const v = await t.verify();
    expect(v.code).toBe(1);
    expect(v.reason).toMatch(reason);
  });

  it("detects a record appended with a correctly recomputed hash: by the anchor, and by the HMAC when a key is set", async () => {
    const forgeLast = (t: Awaited<ReturnType<typeof trail>>) => {
      const last = JSON.parse(t.lines().at(-1)!);
      const {
        hash: _h,
        mac: _m,
        ...body
      } = {
        ...last,
        id: "a_forged",
        seq: last.seq + 1,
        prevHash: last.hash,
        action: "approve",
        outcome: { by: "mallory" },
      };
      const hash = createHash("sha256").update(body.prevHash).update(canonical(body)).digest("hex");
      return { ...body, hash };
    };
    const t = await trail();
    appendFileSync(t.file, `${JSON.stringify(forgeLast(t))}\n`);
    expect(await t.verify()).toMatchObject({
      code: 1,
      line: 4,
      id: "a_forged",
      reason: expect.stringContaining("after the anchored head #3"),
    });

    // With a key, even a forger who rewrites the ledger's anchor too cannot mint a record: it has no valid HMAC.
    const k = await trail({ LANES_AUDIT_KEY: "audit-key" });
    const forged = forgeLast(k);
    const lines = k.lines();
    writeFileSync(
      k.file,
      `${[...lines.slice(0, -1), JSON.stringify({ ...JSON.parse(lines.at(-1)!), mac: "0".repeat(64) })].join("\n")}\n`,
    );
    expect(await k.verify()).toMatchObject({
      code: 1,
      line: 3,
      reason: expect.stringContaining("HMAC does not verify"),
    });
    writeFileSync(k.file, `${[...lines, JSON.stringify(forged)].join("\n")}\n`);
    expect(await k.verify()).toMatchObject({
      code: 1,
      line: 4,
      reason: expect.stringMatching(/no HMAC|after the anchored head/),
    });
  });

  it("a partial last line (a crash mid-write) does not stop plan; verify reports it and --repair sets it aside", async () => {
    const t = await trail();
    appendFileSync(t.file, '{"id":"a_half","seq":4,"ti');
    const plan = await lanes(["plan", "after the crash", "--lane", "eval"], { cwd: t.repo, env: t.env });
    expect(plan.code, plan.stderr).toBe(0);
    const broken = await t.verify();
    expect(broken).toMatchObject({ code: 1, line: 4, reason: expect.stringContaining("not a complete JSON record") });
    const repaired = await t.verify("--repair");
    expect(repaired).toMatchObject({ code: 0, ok: true, setAside: 1, records: 5 });
    expect(readFileSync(repaired.sideFile, "utf8")).toBe('{"id":"a_half","seq":4,"ti\n');
    expect(JSON.parse(t.lines().at(-1)!)).toMatchObject({ action: "repair", outcome: { setAside: 1 } });
    expect(readdirSync(join(t.env.LANES_HOME!)).some((f) => f.startsWith("audit.jsonl.set-aside-"))).toBe(true);
  });

  it("--repair cannot repair a truncation", async () => {
    const t = await trail();
    writeFileSync(t.file, `${t.lines()[0]}\n`);
    const r = await t.verify("--repair");
    expect(r).toMatchObject({ code: 1, reason: expect.stringContaining("truncated") });
    expect(existsSync(t.file)).toBe(true);
    expect(t.lines()).toHaveLength(1);
  });
});
