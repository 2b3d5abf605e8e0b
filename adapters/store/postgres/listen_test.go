package postgres

import "testing"

func TestParseNotification(t *testing.T) {
	tests := []struct {
		payload string
		want    notification
	}{
		{notification{head: 42, from: "8c0e"}.payload(), notification{head: 42, from: "8c0e"}},
		{"42", notification{head: 42}}, // an older version's payload: the head alone
		{"x 8c0e", notification{from: "8c0e"}},
		{"-1 8c0e", notification{from: "8c0e"}},
		{"", notification{}},
	}
	for _, tt := range tests {
		if got := parseNotification(tt.payload); got != tt.want {
			t.Errorf("parseNotification(%q) = %+v, want %+v", tt.payload, got, tt.want)
		}
	}
}
