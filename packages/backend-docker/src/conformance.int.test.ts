// The backend conformance suite of @bottle/backend against the docker backend (runc),
// on a real engine with the real images; the "internet" is the demo world's upstream.
import { testBackend } from "@bottle/backend/conformance";
import { bottleImageTags, buildUpstreamImage, demoConformance } from "@bottle/test-utils";
import { createDockerBackend } from "./backend.js";

buildUpstreamImage();
const fixture = demoConformance({ id: "conf-runc", backend: "docker", images: bottleImageTags(), bundleNetwork: (plan) => plan.networks.egress });

testBackend({
  label: "docker",
  backend: () => createDockerBackend(),
  world: () => fixture.world(),
  plan: (name, facts) => fixture.plan(name, facts),
  bottles: fixture.bottles,
  leftovers: (plan) => fixture.leftovers(plan),
  teardown: () => fixture.teardown(),
});
