#!/usr/bin/env bash
# Sets up this machine's Postfix and Dovecot (Debian packages postfix, dovecot-pop3d) as the
# peers bench:smtp and bench:pop3 compare with: Postfix on 127.0.0.1:25 accepting mail for
# box@bench.test and delivering it into ~box/Maildir; Dovecot's POP3 on 127.0.0.1:110 serving
# that Maildir. Passwords: SHA512-CRYPT in a passwd-file with Dovecot's auth cache on (Dovecot
# has no scrypt; the cache is what makes its repeated logins cheap, as Postamt's login cache).
# Run as root on a bench machine only: it rewrites main.cf and Dovecot's local.conf.
#   bench/peers/setup-postfix-dovecot.sh [password]
set -euo pipefail
password=${1:-bench password 1}
command -v postfix >/dev/null || { echo "postfix is not installed (apt-get install postfix)" >&2; exit 1; }
command -v dovecot >/dev/null || { echo "dovecot is not installed (apt-get install dovecot-pop3d)" >&2; exit 1; }

id box >/dev/null 2>&1 || useradd -m -s /usr/sbin/nologin box
install -d -o box -g box -m 700 ~box/Maildir ~box/Maildir/new ~box/Maildir/cur ~box/Maildir/tmp

postconf -e \
  'inet_interfaces = loopback-only' \
  'inet_protocols = ipv4' \
  'myhostname = peer.bench.test' \
  'mydestination = bench.test, localhost' \
  'mynetworks = 127.0.0.0/8' \
  'home_mailbox = Maildir/' \
  'mailbox_command =' \
  'message_size_limit = 52428800' \
  'smtpd_client_connection_count_limit = 0' \
  'smtpd_client_connection_rate_limit = 0' \
  'smtpd_client_message_rate_limit = 0' \
  'default_process_limit = 200' \
  'smtpd_banner = $myhostname ESMTP' \
  'smtpd_delay_reject = yes' \
  'local_destination_concurrency_limit = 16' \
  'biff = no'
newaliases
postfix check
# Daemons get no inherited stdout: a caller reading ours would wait for them forever.
postfix status >/dev/null 2>&1 && postfix reload >/dev/null 2>&1 || postfix start >/dev/null 2>&1 </dev/null

# Debian's 10-ssl.conf reads this pair even with ssl = no; its postinst makes it where it can.
if [ ! -s /etc/dovecot/private/dovecot.pem ]; then
  install -d -m 700 /etc/dovecot/private
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=peer.bench.test \
    -keyout /etc/dovecot/private/dovecot.key -out /etc/dovecot/private/dovecot.pem 2>/dev/null
fi
cat > /etc/dovecot/local.conf <<CONF
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
auth_cache_size = 10M
auth_cache_ttl = 1 hour
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
# Retrieval marks nothing as seen: no index writes per session (Dovecot at its fastest for this load).
pop3_no_flag_updates = yes
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT /etc/dovecot/bench.passwd
}
userdb {
  driver = static
  args = uid=box gid=box home=/home/box
}
service pop3-login {
  process_min_avail = 2
  service_count = 0
}
CONF
printf 'box@bench.test:%s\n' "$(doveadm pw -s SHA512-CRYPT -p "$password")" > /etc/dovecot/bench.passwd
chmod 640 /etc/dovecot/bench.passwd; chgrp dovecot /etc/dovecot/bench.passwd
# Debian's 10-auth.conf includes auth-system (PAM); the bench's passwd-file comes first.
if pgrep -x dovecot >/dev/null; then doveadm reload; else dovecot >/dev/null 2>&1 </dev/null; fi
echo "Postfix on 127.0.0.1:25 (box@bench.test → /home/box/Maildir), Dovecot POP3 on 127.0.0.1:110"
