# /etc/profile.d/cs-first-boot-console.sh (buildiso sample gateway, cs-email-core 4.9):
# cs-admin's login on a terminal shows the First Boot Console (installation guide 3.3)
# until it completes. exec: the session is the console's and ends with it (Ctrl-C
# included), so no shell is reached before the new password is set; later logins, once
# /var/lib/cs-email/first-boot-pending is gone, get the shell.
if [ -e /var/lib/cs-email/first-boot-pending ] && [ -t 0 ] && [ "$(id -un)" = cs-admin ]; then
    exec sudo /usr/sbin/cs-first-boot-console
fi
