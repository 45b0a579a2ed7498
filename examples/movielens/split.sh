#!/bin/sh
# Splits the validated ratings: each user's latest $LOOPML_PARAM_SPLIT_TEST_FRACTION
# of ratings (by timestamp) go to data/test.csv, the rest to data/train.csv.
set -eu
rm -rf .loopml/ratings && mkdir -p .loopml data
loopml data get "$LOOPML_DATA_RATINGS" .loopml/ratings
f=.loopml/ratings/ratings.csv
head -n 1 "$f" > data/train.csv
head -n 1 "$f" > data/test.csv
# Sort by user, then time; count each user's ratings; assign the tail.
tail -n +2 "$f" | sort -t, -k1,1n -k4,4n -k2,2n > .loopml/sorted.csv
awk -F, -v frac="$LOOPML_PARAM_SPLIT_TEST_FRACTION" '
  NR == FNR { n[$1]++; next }
  { i[$1]++; if (i[$1] > n[$1] * (1 - frac)) print >> "data/test.csv"; else print >> "data/train.csv" }
' .loopml/sorted.csv .loopml/sorted.csv
echo "train: $(($(wc -l < data/train.csv) - 1)) ratings, test: $(($(wc -l < data/test.csv) - 1)) ratings"
