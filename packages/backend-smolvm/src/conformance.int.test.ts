// The backend conformance suite of @bottle/backend against the smolvm backend, driven
// through smolvm-standin: a STAND-IN for the smolvm CLI (no KVM/libkrun here) that runs
// each machine as a docker container and emulates --allow-cidr with iptables. It proves
// the backend's side of the contract, not microVM isolation (see the stand-in's README).
import { testBackend } from "@bottle/backend/conformance";
import { bottleImageTags, buildUpstreamImage, demoConformance, installSmolvmStandin, type SmolvmStandin } from "@bottle/test-utils";
import { createSmolvmBottleBackend } from "./contract.js";
import { deriveImage } from "./images.js";
import { createSmolvmBackend } from "./backend.js";

buildUpstreamImage();
const images = bottleImageTags();
const fixture = demoConformance({ id: "conf-smolvm", backend: "smolvm", images, bundleNetwork: (plan) => `smolvm-standin-${plan.networks.internal}` });
let standin: SmolvmStandin | undefined;

testBackend({
  label: "smolvm (stand-in CLI)",
  backend: async () => {
    standin = await installSmolvmStandin({ fenceImage: images.sidecars });
    // the stand-in takes derived images by reference, which spares each run a ~800 MB `docker save`
    const derived = { agent: await deriveImage(images.agent), bundle: await deriveImage(images.sidecars) };
    return createSmolvmBottleBackend({ bin: standin.bin }, withImages(createSmolvmBackend({ bin: standin.bin }), derived));
  },
  world: () => fixture.world(),
  plan: (name, facts) => fixture.plan(name, facts),
  bottles: fixture.bottles,
  leftovers: (plan) => fixture.leftovers(plan),
  teardown: async () => {
    fixture.teardown();
    await standin?.cleanup();
  },
});

/** The machine operations with fixed image references for launch (what `images` of SmolvmLaunchInput is for). */
function withImages(machines: ReturnType<typeof createSmolvmBackend>, images: { agent: string; bundle: string }): ReturnType<typeof createSmolvmBackend> {
  return { ...machines, launch: (input) => machines.launch({ ...input, images }) };
}
