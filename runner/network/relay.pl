# Delays one link of a page's network: a packet relay between two TUN devices, because a kernel
# without netem (these machines' has none) cannot delay packets itself. Lectern starts it in one
# host's network namespace and moves device B into the other's afterwards: the relay keeps its
# file descriptors, so it goes on relaying between the two namespaces. Perl because perl-base is
# in every Debian system and starts in a few milliseconds; core modules only. Lectern's helper,
# never run as a cell.
#
#   perl relay.pl DELAY_MS A B
#
# Creates TUN devices A and B (point to point, no ARP, no packet information header) and prints
# `up`. Every packet read from A is written to B DELAY_MS later, and B to A, each direction in
# order. At most QUEUE packets wait in a direction; one more is dropped and counted. A line
# `count` on stdin is answered `count AB BA DROPPED_AB DROPPED_BA` (packets relayed, dropped).
# End of input means Lectern is gone: so is the relay (and the devices with it).
use strict;
use warnings;
use Errno qw(EAGAIN EWOULDBLOCK EINTR EBADFD);
use Fcntl qw(O_RDWR O_NONBLOCK);
use Time::HiRes qw(time);

use constant QUEUE => 1000;
use constant MTU_READ => 65536;
# Packets read from one device before the relay looks at the other: a flood on one direction
# cannot starve the other.
use constant BURST => 64;
use constant { IFF_TUN => 0x0001, IFF_NO_PI => 0x1000 };
# _IOW('T', 202, int) in the layout of the generic ioctl numbers (x86, arm, riscv): 0x400454ca.
# Computed rather than written out so that what it is stays visible.
use constant TUNSETIFF => (1 << 30) | (4 << 16) | (ord('T') << 8) | 202;

$| = 1;
my ($delay_ms, @names) = @ARGV;
die "usage: relay.pl DELAY_MS A B\n"
  unless @names == 2 && defined $delay_ms && $delay_ms =~ /^\d+(\.\d+)?$/;
for (@names) { die "'$_' is not an interface name\n" unless /^[A-Za-z0-9_.-]{1,15}$/; }
my $delay = $delay_ms / 1000;

sub tun {
  my ($name) = @_;
  sysopen(my $fh, "/dev/net/tun", O_RDWR | O_NONBLOCK) or die "cannot open /dev/net/tun: $!\n";
  # struct ifreq: the name (16 bytes), then the flags in a union of 24.
  my $ifr = pack("Z16 s x22", $name, IFF_TUN | IFF_NO_PI);
  ioctl($fh, TUNSETIFF, $ifr) or die "cannot create TUN device $name (TUNSETIFF): $!\n";
  binmode $fh;
  return $fh;
}

my @fh = map { tun($_) } @names;
print "up\n";

# Per direction (0: A to B, 1: B to A): packets waiting, each [due time, bytes]; counters.
my @queue = ([], []);
my @relayed = (0, 0);
my @dropped = (0, 0);
my $stdin_open = 1;
my $input = "";

sub take {
  my ($dir) = @_;
  for (1 .. BURST) {
    my $n = sysread($fh[$dir], my $packet, MTU_READ);
    if (!defined $n) {
      return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
      # The device went with the namespace it was in (its host was torn down): the link is gone.
      exit 0 if $! == EBADFD;
      die "reading $names[$dir]: $!\n";
    }
    return if $n == 0;
    if (@{ $queue[$dir] } >= QUEUE) { $dropped[$dir]++; next; }
    push @{ $queue[$dir] }, [time + $delay, $packet];
  }
}

sub deliver {
  my ($now) = @_;
  for my $dir (0, 1) {
    my $q = $queue[$dir];
    while (@$q && $q->[0][0] <= $now) {
      my $packet = shift(@$q)->[1];
      # A device that is down (not yet set up, or being moved) refuses the packet: lost, as on
      # a wire that is not plugged in.
      if (defined syswrite($fh[1 - $dir], $packet)) { $relayed[$dir]++; }
      else { $dropped[$dir]++; }
    }
  }
}

sub answer {
  my $n = sysread(STDIN, my $chunk, 4096);
  if (!defined $n) { return if $! == EINTR || $! == EAGAIN; $n = 0; }
  if ($n == 0) { $stdin_open = 0; return; }
  $input .= $chunk;
  while ($input =~ s/^([^\n]*)\n//) {
    print "count @relayed @dropped\n" if $1 eq "count";
  }
}

while ($stdin_open) {
  my $rin = "";
  vec($rin, fileno($_), 1) = 1 for @fh, \*STDIN;
  my $next;
  for my $q (@queue) { $next = $q->[0][0] if @$q && (!defined $next || $q->[0][0] < $next); }
  my $wait = defined $next ? $next - time : undef;
  $wait = 0 if defined $wait && $wait < 0;
  my $ready = select(my $rout = $rin, undef, undef, $wait);
  if ($ready > 0) {
    take($_) for grep { vec($rout, fileno($fh[$_]), 1) } 0, 1;
    answer() if vec($rout, fileno(STDIN), 1);
  }
  deliver(time);
}
