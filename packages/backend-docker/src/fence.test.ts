import { describe, expect, it } from "vitest";
import { agentFenceRules } from "./fence.js";

describe("agentFenceRules", () => {
  it("allows loopback and the bundle, then rejects everything else, on v4 and v6", () => {
    const rules = agentFenceRules("192.168.16.2").map((r) => r.join(" "));
    expect(rules).toEqual([
      "iptables -w -A OUTPUT -o lo -j ACCEPT",
      "iptables -w -A OUTPUT -d 192.168.16.2/32 -j ACCEPT",
      "iptables -w -A OUTPUT -j REJECT",
      "ip6tables -w -A OUTPUT -o lo -j ACCEPT",
      "ip6tables -w -A OUTPUT -j REJECT",
    ]);
  });
});
