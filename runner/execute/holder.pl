# Holds a page's network namespace open (Lectern started it with `unshare --net`) and the page's
# named ports inside it, so that no cell of the page can bind a number before the server that
# names it. Perl because perl-base is in every Debian system and starts in a few milliseconds; it
# is Lectern's helper, never run as a cell.
#
# Lectern writes one request per line on stdin and reads one answer per line:
#   hold N  -> held P1 .. PN   N ports, each bound for TCP (listening) and for UDP, on every address
#   take P1 .. PN -> took P1 .. PN   the same numbers, held here too (another host of the page's
#                                   network: a port's number is the page's, on every host)
#   free P  -> freed P         lets go of P: the server that names it is about to start
# End of input means Lectern is gone: so is the namespace.
use strict;
use warnings;
use Socket qw(AF_INET AF_INET6 SOCK_STREAM SOCK_DGRAM IPPROTO_IPV6 IPV6_V6ONLY INADDR_ANY IN6ADDR_ANY
  pack_sockaddr_in pack_sockaddr_in6 unpack_sockaddr_in unpack_sockaddr_in6);

$| = 1;

# --own: make the namespace ourselves (root, on x86_64 or arm64), instead of being started in one
# by `unshare --net` under `setpriv --pdeathsig`: two programs fewer to start for every page run.
if (@ARGV && $ARGV[0] eq "--own") {
  my ($unshare, $prctl) = $ARGV[1] eq "arm64" ? (97, 167) : (272, 157);
  syscall($prctl, 1, 9) == 0 or exit 1;          # PR_SET_PDEATHSIG, SIGKILL: we die with Lectern
  exit 0 if getppid() == 1;                        # Lectern died before that took hold
  syscall($unshare, 0x40000000) == 0 or exit 1;   # CLONE_NEWNET
}

# Loopback up (SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP): the ioctl `ip link set lo up` makes.
socket(my $ctl, AF_INET, SOCK_DGRAM, 0) or exit 1;
my $ifreq = pack("a16 x24", "lo");
ioctl($ctl, 0x8913, $ifreq) or exit 1;
my $flags = unpack("x16 s", $ifreq);
ioctl($ctl, 0x8914, pack("a16 s x22", "lo", $flags | 1)) or exit 1;
close($ctl);
print "up\n";

# The wildcard of IPv6 without V6ONLY covers IPv4 too: nobody can bind the port on 127.0.0.1,
# ::1 or any other address while it is held. Without IPv6 in the kernel, IPv4's wildcard.
my $six = socket(my $probe, AF_INET6, SOCK_DGRAM, 0);
my $family = $six ? AF_INET6 : AF_INET;

sub bound {
  my ($type, $port) = @_;
  socket(my $s, $family, $type, 0) or return undef;
  if ($six) { setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 0) or return undef; }
  my $addr = $six ? pack_sockaddr_in6($port, IN6ADDR_ANY) : pack_sockaddr_in($port, INADDR_ANY);
  bind($s, $addr) or return undef;
  # Listening, so that a later bind conflicts even when it asks for SO_REUSEADDR (Node does).
  if ($type == SOCK_STREAM) { listen($s, 1) or return undef; }
  return $s;
}

my %held;

sub hold_one {
  for (1 .. 100) {
    my $tcp = bound(SOCK_STREAM, 0) or next;
    my ($port) = $six ? unpack_sockaddr_in6(getsockname($tcp)) : unpack_sockaddr_in(getsockname($tcp));
    my $udp = bound(SOCK_DGRAM, $port) or next;
    $held{$port} = [$tcp, $udp];
    return $port;
  }
  return 0;
}

while (my $line = <STDIN>) {
  if ($line =~ /^hold (\d+)$/) {
    my @ports = map { hold_one() } 1 .. $1;
    print "held @ports\n";
  } elsif ($line =~ /^take ([\d ]+)$/) {
    my @ports = map { my $tcp = bound(SOCK_STREAM, $_); my $udp = $tcp && bound(SOCK_DGRAM, $_); $held{$_} = [$tcp, $udp] if $udp; $udp ? $_ : 0 } split / /, $1;
    print "took @ports\n";
  } elsif ($line =~ /^free (\d+)$/) {
    if (my $pair = delete $held{$1}) { close($_) for @$pair; }
    print "freed $1\n";
  }
}
