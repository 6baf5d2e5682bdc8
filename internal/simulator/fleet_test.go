package simulator

import (
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

var (
	uuidV4RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	nameRE   = regexp.MustCompile(`^[-_.a-zA-Z0-9]{1,64}$`)
	orderRE  = regexp.MustCompile(`^[a-zA-Z0-9]{1,64}$`)
)

func TestFleetDeterministic(t *testing.T) {
	tests := []struct {
		name string
		seed int64
		size int
	}{
		{"default", 1, 40},
		{"small", 7, 3},
		{"large", 42, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := generateFleet(tt.seed, tt.size, buildImages())
			b := generateFleet(tt.seed, tt.size, buildImages())
			if len(a) != tt.size {
				t.Fatalf("fleet has %d servers, want %d", len(a), tt.size)
			}
			if diff := cmp.Diff(a, b); diff != "" {
				t.Fatalf("same seed and size gave different fleets (-first +second):\n%s", diff)
			}
			other := generateFleet(tt.seed+1, tt.size, buildImages())
			if cmp.Equal(a, other) {
				t.Fatalf("seeds %d and %d gave the same fleet", tt.seed, tt.seed+1)
			}
		})
	}
}

func TestFleetShape(t *testing.T) {
	images := buildImages()
	imageByID := map[string]modelarts.ServerImageResponse{}
	for _, img := range images {
		imageByID[img.ImageID] = img
	}
	for _, tc := range []struct {
		name string
		seed int64
		size int
	}{
		{"seed1-40", 1, 40},
		{"seed2-40", 2, 40},
		{"seed99-40", 99, 40},
		{"seed3-500", 3, 500},
		{"seed4-5000", 4, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fleet := generateFleet(tc.seed, tc.size, images)
			ids, names, ips := map[string]bool{}, map[string]bool{}, map[string]bool{}
			count := map[string]int{}
			supernodeMembers := map[string]int{}
			var prevCreate int64
			for i, s := range fleet {
				if !uuidV4RE.MatchString(s.ID) || ids[s.ID] {
					t.Errorf("server %d: id %q is not a fresh v4 UUID", i, s.ID)
				}
				ids[s.ID] = true
				if !nameRE.MatchString(s.Name) || names[s.Name] {
					t.Errorf("server %d: name %q is invalid or repeated", i, s.Name)
				}
				names[s.Name] = true
				ip := s.PrivateIP()
				if net.ParseIP(ip) == nil || ips[s.VpcID+ip] {
					t.Errorf("server %s: private IP %q is invalid or repeated", s.Name, ip)
				}
				ips[s.VpcID+ip] = true
				if !uuidV4RE.MatchString(s.VpcID) || !uuidV4RE.MatchString(s.SubnetID) {
					t.Errorf("server %s: vpc %q / subnet %q are not UUIDs", s.Name, s.VpcID, s.SubnetID)
				}
				if s.CreateAt < prevCreate {
					t.Errorf("server %s: created before the previous server", s.Name)
				}
				prevCreate = s.CreateAt
				if s.UpdateAt < s.CreateAt {
					t.Errorf("server %s: update_at %d before create_at %d", s.Name, s.UpdateAt, s.CreateAt)
				}
				if y := time.UnixMilli(s.CreateAt).Year(); y < 2025 || y > 2026 {
					t.Errorf("server %s: create_at %d is not epoch milliseconds in 2025-2026", s.Name, s.CreateAt)
				}
				if s.Status.Transient() {
					t.Errorf("server %s starts in transient state %s", s.Name, s.Status)
				}
				f, ok := flavorFamily(s.Flavor)
				if !ok {
					t.Fatalf("server %s: flavor %q is not in the catalog", s.Name, s.Flavor)
				}
				if s.Category != f.category || s.Type() != f.serverType || s.Arch() != f.arch {
					t.Errorf("server %s: %s/%s/%s does not match flavor %s", s.Name, s.Category, s.Type(), s.Arch(), s.Flavor)
				}
				if img, ok := imageByID[s.Image.ImageID]; !ok || img != *s.Image {
					t.Errorf("server %s: image %+v is not in the catalog", s.Name, s.Image)
				}
				if len(s.Volumes) == 0 || s.Volumes[0].Type != modelarts.VolumeRoot {
					t.Errorf("server %s: first volume is not ROOT: %+v", s.Name, s.Volumes)
				}
				for _, v := range s.Volumes {
					if v.Size < 100 || v.Size > 1024 || v.EVSType == "" || !uuidV4RE.MatchString(v.EVSID) {
						t.Errorf("server %s: bad volume %+v", s.Name, v)
					}
				}
				switch s.ChargingMode {
				case modelarts.ChargingPrePaid:
					if !orderRE.MatchString(s.OrderID) {
						t.Errorf("server %s: PRE_PAID with order id %q", s.Name, s.OrderID)
					}
				case modelarts.ChargingPostPaid:
					if s.OrderID != "" {
						t.Errorf("server %s: POST_PAID with order id %q", s.Name, s.OrderID)
					}
				default:
					t.Errorf("server %s: charging mode %q", s.Name, s.ChargingMode)
				}
				if s.Category == modelarts.CategoryHPS {
					if s.ServerHps == nil || !uuidV4RE.MatchString(s.ServerHps.ID) || !nameRE.MatchString(s.ServerHps.Name) {
						t.Errorf("server %s: supernode member without server_hps: %+v", s.Name, s.ServerHps)
					} else {
						supernodeMembers[s.ServerHps.ID]++
					}
					if s.CloudServer.HpsID == "" || s.CloudServer.HpsEcsID == "" {
						t.Errorf("server %s: supernode member without hps ids: %+v", s.Name, s.CloudServer)
					}
				} else if s.ServerHps != nil {
					t.Errorf("server %s: %s server has server_hps", s.Name, s.Category)
				}
				count[string(s.Category)]++
				count[string(s.Type())]++
				count[string(s.Arch())]++
				count[string(s.ChargingMode)]++
				count[string(s.Status)]++
			}
			for id, n := range supernodeMembers {
				if n < 1 || n > 4 {
					t.Errorf("supernode %s has %d members, want 1 to 4", id, n)
				}
			}
			n := len(fleet)
			mustHave := []string{"SERVER", "HPS", "SPOD", "BMS", "ECS", "X86", "ARM", "POST_PAID", "PRE_PAID",
				"RUNNING", "STOPPED", "START_FAILED", "STOP_FAILED", "CHANGINGOS_FAILED", "ERROR", "CREATE_FAILED"}
			for _, k := range mustHave {
				if count[k] == 0 {
					t.Errorf("fleet has no %s server; counts %v", k, count)
				}
			}
			if count["SERVER"] < n/2 {
				t.Errorf("SERVER is %d of %d; want most servers", count["SERVER"], n)
			}
			if count["RUNNING"]+count["STOPPED"] < n*3/4 {
				t.Errorf("RUNNING+STOPPED is %d of %d; want most servers", count["RUNNING"]+count["STOPPED"], n)
			}
			if count["RUNNING"] <= count["STOPPED"] {
				t.Errorf("RUNNING %d <= STOPPED %d; want mostly running", count["RUNNING"], count["STOPPED"])
			}
		})
	}
}

func TestImageCatalog(t *testing.T) {
	images := buildImages()
	active := map[string]int{}
	seen := map[string]bool{}
	for _, img := range images {
		if !uuidV4RE.MatchString(img.ImageID) || seen[img.ImageID] {
			t.Errorf("image %q: id %q is not a fresh UUID", img.Name, img.ImageID)
		}
		seen[img.ImageID] = true
		if img.Status == modelarts.ImageActive {
			active[string(img.ServerType)+"/"+string(img.Arch)]++
		}
	}
	for _, f := range allFamilies {
		if k := string(f.serverType) + "/" + string(f.arch); active[k] < 2 {
			t.Errorf("%s has %d ACTIVE images; an OS change needs at least two", k, active[k])
		}
	}
	if diff := cmp.Diff(images, buildImages()); diff != "" {
		t.Errorf("image ids are not stable (-first +second):\n%s", diff)
	}
}

func TestShortFlavor(t *testing.T) {
	tests := []struct{ flavor, want string }{
		{"ascend-snt9b.8xlarge.32", "snt9b"},
		{"gpu-ant8.48xlarge.8", "ant8"},
		{"physical.pi2.8xlarge.8", "bms"},
		{"Si2.large.4", "si2"},
		{"c7.2xlarge.4", "c7"},
	}
	for _, tt := range tests {
		t.Run(tt.flavor, func(t *testing.T) {
			if got := shortFlavor(tt.flavor); got != tt.want {
				t.Errorf("shortFlavor(%q) = %q, want %q", tt.flavor, got, tt.want)
			}
		})
	}
}
