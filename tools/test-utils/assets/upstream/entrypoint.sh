#!/bin/sh
# /fixture (bind mount): ssh_host_ed25519_key, authorized_keys, tls.crt, tls.key
set -eu
install -m 600 /fixture/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -d -o git -g git -m 700 /home/git/.ssh
install -o git -g git -m 600 /fixture/authorized_keys /home/git/.ssh/authorized_keys
for repo in app; do
  if [ ! -d /srv/git/$repo.git ]; then
    git init -q --bare -b main /srv/git/$repo.git
    tmp=$(mktemp -d); git -C "$tmp" init -q -b main
    printf '# %s\n' "$repo" > "$tmp/README.md"
    git -C "$tmp" add README.md
    git -C "$tmp" -c user.name=upstream -c user.email=upstream@test commit -q -m "initial commit"
    git -C "$tmp" push -q /srv/git/$repo.git main
    rm -rf "$tmp"
  fi
done
chown -R git:git /srv/git
/usr/sbin/sshd -D -e -o HostKey=/etc/ssh/ssh_host_ed25519_key -o PasswordAuthentication=no -o UsePAM=no &
exec node /opt/upstream/server.mjs
