"""Where to draw the line for "no lyrics": the catalogue's music tracks at each instrumentalness
line, and the most popular of them (the ones retrieval tends to play first), to listen through.

    python benchmarks/instrumental_line.py [--lines 0.5 0.7 0.8 0.9] [--top 12]

Spotify documents 0.5 ("values above 0.5 are intended to represent instrumental tracks"); its
reading is noisy on whispered or heavily produced vocals, so the popular tracks just over 0.5 are
often sung. ``music_domain.critiques.ABSOLUTE`` holds the line used."""
import argparse

from music_domain.catalog import load_catalog
from music_domain.critiques import ABSOLUTE


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9])
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args(argv)
    catalog = load_catalog()
    music = catalog[catalog["content"] == "music"] if "content" in catalog else catalog
    print(f"{len(music)} music tracks; the line in use: instrumental >= {ABSOLUTE['instrumental'][2]}, "
          f"vocal < {ABSOLUTE['vocal'][2]}")
    for line in a.lines:
        at = music[music["instrumentalness"] >= line].sort_values("popularity", ascending=False)
        print(f"\ninstrumentalness >= {line}: {len(at)} tracks ({len(at) / max(len(music), 1):.1%}); most popular:")
        for _, r in at.head(a.top).iterrows():
            print(f"  {r['instrumentalness']:.3f}  {r['track_name']} - {r['artist_name']} ({r['genre']})")


if __name__ == "__main__":
    main()
