import { execa } from "execa";

// Throwaway images FROM bottle/base:bookworm that behave like the real ones where the
// backend can tell: the bundle has iptables (the launch fences the agent with it), answers `bottle-supervisor health` and records SIGHUP;
// the agent has user node, /workspace, update-ca-certificates and a `claude` that records
// its arguments.

const BUNDLE_DOCKERFILE = `FROM bottle/base:bookworm
RUN apt-get update -q && apt-get install -y -q --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*
RUN printf '%s\\n' '#!/bin/sh' \\
  'if [ "$1" = health ]; then test -f /etc/bottle/daemons.json && cat /run/bottle/secrets/secrets.json >/dev/null; exit $?; fi' \\
  'trap "exit 0" TERM INT' \\
  'trap "date >> /var/lib/bottle/hup" HUP' \\
  'echo "[supervisor] stand-in bundle up"' \\
  'echo "[egress] listening"' \\
  'while :; do sleep 1 & wait $!; done' > /usr/local/bin/bottle-supervisor && chmod 0755 /usr/local/bin/bottle-supervisor
CMD ["bottle-supervisor", "run"]
`;

const AGENT_DOCKERFILE = `FROM bottle/base:bookworm
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --home-dir /home/node --shell /bin/sh node \\
 && install -d -o node -g node /workspace \\
 && printf '%s\\n' '#!/bin/sh' 'mkdir -p /etc/ssl/certs' 'cat /usr/local/share/ca-certificates/*.crt > /etc/ssl/certs/ca-certificates.crt' > /usr/local/bin/update-ca-certificates \\
 && printf '%s\\n' '#!/bin/sh' 'echo "$*" >> "$HOME/claude-calls"' > /usr/local/bin/claude \\
 && chmod 0755 /usr/local/bin/update-ca-certificates /usr/local/bin/claude
USER node
CMD ["sleep", "infinity"]
`;

export async function buildStandin(kind: "bundle" | "agent", tag: string): Promise<string> {
  await execa("docker", ["build", "--quiet", "--label", "dev.bottle.test=1", "-t", tag, "-"], {
    input: kind === "bundle" ? BUNDLE_DOCKERFILE : AGENT_DOCKERFILE,
  });
  return tag;
}

export async function removeImages(tags: string[]): Promise<void> {
  await execa("docker", ["rmi", "-f", ...tags], { reject: false });
}
