package app

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"10m", 10 << 20}, {"10M", 10 << 20}, {"512k", 512 << 10}, {"1g", 1 << 30},
		{"10MiB", 10 << 20}, {"8KiB", 8 << 10}, {"10MB", 10_000_000}, {"4096", 4096},
		{"1.5m", 3 << 19}, {" 2m ", 2 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "m", "10q", "ten", "-1m", "2000g"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for _, n := range []int64{8 << 10, 512 << 10, 10 << 20, 3 << 30, 12345} {
		got, err := ParseSize(FormatSize(n))
		if err != nil || got != n {
			t.Errorf("%d → %q → %d, %v", n, FormatSize(n), got, err)
		}
	}
}
