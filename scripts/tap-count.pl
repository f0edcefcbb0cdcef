#!/usr/bin/env perl
# Run TAP test files the way `prove` does (same TAP::Harness, same output) and
# finish with one machine-readable line, so scripts/test can count individual
# assertions instead of files:
#   TAP-COUNT passed=N failed=M
# A file that dies, exits non-zero or breaks its plan without a failing
# assertion still counts as one failure.
# Usage: tap-count.pl [-I dir]... file.pl...
use strict;
use warnings;
use TAP::Harness;

my @lib;
while (@ARGV && $ARGV[0] eq '-I') {
    shift @ARGV;
    push @lib, shift @ARGV;
}
my @files = @ARGV;

my ($passed, $failed) = (0, 0);
if (@files) {
    my $agg = eval {
        TAP::Harness->new({ lib => \@lib, verbosity => 0, failures => 1, timer => 1, color => 0 })
          ->runtests(@files);
    };
    if (!$agg) {
        print STDERR "tap-count: harness error: $@";
        $failed = 1;
    } else {
        for my $desc ($agg->descriptions) {
            my ($parser) = $agg->parsers($desc);
            my $p = () = $parser->passed;
            my $f = () = $parser->failed;
            $f = 1 if $f == 0 && $parser->has_problems;
            $passed += $p;
            $failed += $f;
        }
    }
}
print "TAP-COUNT passed=$passed failed=$failed\n";
exit($failed ? 1 : 0);
