// The escape battery (escape.int.test.ts) with every agent under gVisor (`agent.runtime:
// "runsc"`): the same probes must fail to get out, so the network fence (internal network
// + iptables in the agent's namespace) holds for a runsc agent as for a runc one. The
// battery itself checks that its agents really run under runsc.
process.env.BOTTLE_BATTERY_RUNTIME = "runsc";
await import("./escape.int.test.js");
