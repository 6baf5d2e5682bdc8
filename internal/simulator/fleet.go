package simulator

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// family is a kind of machine in the generated fleet: the flavors it can
// have, and what they imply (category, server type, architecture, disks).
type family struct {
	key        string
	category   modelarts.Category
	serverType modelarts.ServerType
	arch       modelarts.Arch
	flavors    []string
	prefixes   []string // name prefixes (team / purpose)
	rootEVS    []modelarts.EVSType
	maxData    int // maximum number of DATA volumes
}

// The machine families of the fleet. SERVER families are weighted by their
// position in serverFamilyWeights.
var (
	famBMSAscend = family{
		key: "bms-arm", category: modelarts.CategoryServer, serverType: modelarts.ServerTypeBMS, arch: modelarts.ArchARM,
		flavors:  []string{"ascend-snt9b.8xlarge.32", "ascend-snt9b.48xlarge.8", "ascend-snt9.48xlarge.8"},
		prefixes: []string{"llm-train", "pretrain", "finetune", "infer"},
		rootEVS:  []modelarts.EVSType{modelarts.EVSSSD, modelarts.EVSESSD, modelarts.EVSGPSSD},
		maxData:  2,
	}
	famBMSGPU = family{
		key: "bms-x86", category: modelarts.CategoryServer, serverType: modelarts.ServerTypeBMS, arch: modelarts.ArchX86,
		flavors:  []string{"gpu-ant8.48xlarge.8", "physical.pi2.8xlarge.8", "gpu-pnt1.24xlarge.8"},
		prefixes: []string{"cv-train", "llm-train", "eval"},
		rootEVS:  []modelarts.EVSType{modelarts.EVSSSD, modelarts.EVSGPSSD},
		maxData:  2,
	}
	famECSX86 = family{
		key: "ecs-x86", category: modelarts.CategoryServer, serverType: modelarts.ServerTypeECS, arch: modelarts.ArchX86,
		flavors:  []string{"Si2.large.4", "c7.2xlarge.4", "c7.4xlarge.2", "s7n.xlarge.2", "p2s.2xlarge.8"},
		prefixes: []string{"dev", "notebook", "data-prep", "ci"},
		rootEVS:  []modelarts.EVSType{modelarts.EVSGPSSD, modelarts.EVSSAS, modelarts.EVSSATA},
		maxData:  1,
	}
	famECSARM = family{
		key: "ecs-arm", category: modelarts.CategoryServer, serverType: modelarts.ServerTypeECS, arch: modelarts.ArchARM,
		flavors:  []string{"kc1.2xlarge.4", "kc2.4xlarge.4", "ascend-snt3.4xlarge.2"},
		prefixes: []string{"dev", "infer", "port-test"},
		rootEVS:  []modelarts.EVSType{modelarts.EVSGPSSD, modelarts.EVSSAS},
		maxData:  1,
	}
	famHPS = family{
		key: "hps", category: modelarts.CategoryHPS, serverType: modelarts.ServerTypeHPS, arch: modelarts.ArchARM,
		flavors:  []string{"ascend-snt9c.48xlarge.hps"},
		prefixes: []string{"hps"},
		rootEVS:  []modelarts.EVSType{modelarts.EVSSSD, modelarts.EVSESSD},
		maxData:  1,
	}
	famSPOD = family{
		key: "spod", category: modelarts.CategorySPOD, serverType: modelarts.ServerTypeBMS, arch: modelarts.ArchARM,
		flavors:  []string{"ascend-snt9b.48xlarge.spod"},
		prefixes: []string{"spod"},
		rootEVS:  []modelarts.EVSType{modelarts.EVSSSD},
		maxData:  2,
	}
	// serverFamilyWeights spreads SERVER machines: 4 Ascend BMS, 3 GPU BMS,
	// 4 x86 ECS and 1 ARM ECS out of every 12.
	serverFamilyWeights = []struct {
		f *family
		w int
	}{{&famBMSAscend, 4}, {&famBMSGPU, 3}, {&famECSX86, 4}, {&famECSARM, 1}}
	allFamilies = []*family{&famBMSAscend, &famBMSGPU, &famECSX86, &famECSARM, &famHPS, &famSPOD}
)

// imageSpec is one image of the built-in catalog.
type imageSpec struct {
	serverType modelarts.ServerType
	arch       modelarts.Arch
	name       string
	status     modelarts.ImageStatus
}

// imageCatalog lists the images the simulator knows, per server type and
// architecture. Every (type, arch) pair has at least two ACTIVE images so an
// OS change always has a target; some pairs also have an INACTIVE one.
var imageCatalog = []imageSpec{
	{modelarts.ServerTypeECS, modelarts.ArchX86, "Ubuntu22.04_x86_64_CPU", modelarts.ImageActive},
	{modelarts.ServerTypeECS, modelarts.ArchX86, "Ubuntu18.04_x86_64_CPU", modelarts.ImageActive},
	{modelarts.ServerTypeECS, modelarts.ArchX86, "HCE2.0_x86_64_CPU", modelarts.ImageActive},
	{modelarts.ServerTypeECS, modelarts.ArchX86, "EulerOS2.9_x86_64_CPU", modelarts.ImageInactive},
	{modelarts.ServerTypeECS, modelarts.ArchARM, "Ubuntu22.04_aarch64_CPU", modelarts.ImageActive},
	{modelarts.ServerTypeECS, modelarts.ArchARM, "HCE2.0_aarch64_CPU", modelarts.ImageActive},
	{modelarts.ServerTypeECS, modelarts.ArchARM, "EulerOS2.10_aarch64_Ascend-snt3_CANN8.0", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchX86, "Ubuntu22.04_x86_64_GPU_CUDA12.4", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchX86, "Ubuntu20.04_x86_64_GPU_CUDA11.8", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchX86, "HCE2.0_x86_64_GPU_CUDA12.2", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchX86, "EulerOS2.9_x86_64_GPU_CUDA11.4", modelarts.ImageInactive},
	{modelarts.ServerTypeBMS, modelarts.ArchARM, "EulerOS2.10_aarch64_Ascend-snt9b_CANN8.0", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchARM, "HCE2.0_aarch64_Ascend-snt9b_CANN8.1", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchARM, "Ubuntu22.04_aarch64_Ascend-snt9b_CANN8.0", modelarts.ImageActive},
	{modelarts.ServerTypeBMS, modelarts.ArchARM, "EulerOS2.8_aarch64_Ascend-snt9_CANN6.3", modelarts.ImageInactive},
	{modelarts.ServerTypeHPS, modelarts.ArchARM, "HCE2.0_aarch64_Ascend-snt9c_HPS_CANN8.1", modelarts.ImageActive},
	{modelarts.ServerTypeHPS, modelarts.ArchARM, "EulerOS2.10_aarch64_Ascend-snt9c_HPS_CANN8.0", modelarts.ImageActive},
}

// imageSeed makes image ids the same whatever the fleet seed, so documents
// and tests can name an image.
const imageSeed = 0x1a6e5

// buildImages returns the image catalog with stable ids.
func buildImages() []modelarts.ServerImageResponse {
	rng := rand.New(rand.NewPCG(imageSeed, imageSeed))
	out := make([]modelarts.ServerImageResponse, 0, len(imageCatalog))
	for _, spec := range imageCatalog {
		out = append(out, modelarts.ServerImageResponse{
			Arch:       spec.arch,
			ImageID:    newUUID(rng),
			Name:       spec.name,
			ServerType: spec.serverType,
			Status:     spec.status,
		})
	}
	return out
}

// flavorFamily finds the family of a flavor name.
func flavorFamily(flavor string) (*family, bool) {
	for _, f := range allFamilies {
		for _, fl := range f.flavors {
			if fl == flavor {
				return f, true
			}
		}
	}
	return nil, false
}

// fleetBase is the creation time of the oldest generated server; the fleet
// spreads over fleetSpan after it.
var (
	fleetBase = time.Date(2025, time.January, 6, 1, 0, 0, 0, time.UTC)
	fleetSpan = 300 * 24 * time.Hour
)

// failureStates are the initial failure states mixed into the fleet, in the
// order quota slots are given out.
var failureStates = []modelarts.Status{
	modelarts.StatusStartFailed, modelarts.StatusStopFailed, modelarts.StatusChangingOSFailed,
	modelarts.StatusError, modelarts.StatusCreateFailed,
}

// network is a VPC with one subnet and the address prefix of its /16.
type network struct {
	vpcID, subnetID string
	prefix          string // e.g. "192.168"
	next            int    // next host index
}

// generateFleet builds the deterministic fleet for a seed and size, in
// creation order (oldest first). The same (seed, size) always gives the same
// fleet, byte for byte.
func generateFleet(seed int64, size int, images []modelarts.ServerImageResponse) []modelarts.ServerResponse {
	if size <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(size)^0x5eed))

	fams := fleetFamilies(rng, size)
	states := fleetStates(rng, size)
	prepaid := fleetPrepaid(rng, size)

	nets := []*network{
		{vpcID: newUUID(rng), subnetID: newUUID(rng), prefix: "192.168"},
		{vpcID: newUUID(rng), subnetID: newUUID(rng), prefix: "172.16"},
		{vpcID: newUUID(rng), subnetID: newUUID(rng), prefix: "10.0"},
	}

	// Supernodes: consecutive HPS members are grouped four to a supernode.
	type supernode struct {
		id, name, hpsID string
		members         int
		net             *network
	}
	var (
		current *supernode
		hpsNum  int
	)

	gap := fleetSpan / time.Duration(size)
	created := fleetBase
	out := make([]modelarts.ServerResponse, 0, size)
	for i := range size {
		f := fams[i]
		created = created.Add(gap/2 + time.Duration(rng.Int64N(int64(gap)+1)))
		createMs := created.UnixMilli() + rng.Int64N(1000)
		updateMs := createMs + 60_000 + rng.Int64N(int64(30*24*time.Hour/time.Millisecond))

		s := modelarts.ServerResponse{
			ID:       newUUID(rng),
			CreateAt: createMs,
			UpdateAt: updateMs,
			Flavor:   f.flavors[rng.IntN(len(f.flavors))],
			Status:   states[i],
			Category: f.category,
		}
		net := nets[rng.IntN(len(nets))]

		switch f.category {
		case modelarts.CategoryHPS:
			if current == nil || current.members == 4 || fams[i-1] != &famHPS {
				hpsNum++
				current = &supernode{
					id:    newUUID(rng),
					name:  fmt.Sprintf("hps-pod%02d", hpsNum),
					hpsID: newUUID(rng),
					net:   net,
				}
			}
			current.members++
			net = current.net // a supernode lives in one VPC
			s.Name = fmt.Sprintf("%s-node%02d-%03d", current.name, current.members, i+1)
			s.ServerHps = &modelarts.ServerHpsInfo{ID: current.id, Name: current.name}
			s.CloudServer = &modelarts.CloudServer{
				ID:       newUUID(rng),
				Type:     modelarts.ServerTypeHPS,
				HpsID:    current.hpsID,
				HpsEcsID: newUUID(rng),
			}
		default:
			prefix := f.prefixes[rng.IntN(len(f.prefixes))]
			s.Name = fmt.Sprintf("%s-%s-%03d", prefix, shortFlavor(s.Flavor), i+1)
			s.CloudServer = &modelarts.CloudServer{ID: newUUID(rng), Type: f.serverType}
		}

		s.VpcID, s.SubnetID = net.vpcID, net.subnetID
		s.Endpoints = []modelarts.EndpointsRes{{Service: modelarts.DevServiceSSH, URI: net.nextIP()}}

		img := pickImage(rng, images, f.serverType, f.arch)
		s.Image = &img

		if rng.IntN(10) < 6 {
			s.KeyPairName = "KeyPair-" + f.prefixes[rng.IntN(len(f.prefixes))]
			s.EndpointsResponse = []modelarts.Endpoints{{DevService: modelarts.DevServiceSSH, SSHKeys: []string{s.KeyPairName}}}
		}

		s.Volumes = generateVolumes(rng, f)

		if prepaid[i] {
			s.ChargingMode = modelarts.ChargingPrePaid
			s.OrderID = fmt.Sprintf("CS%s%s", created.Format("0601021504"), randAlnum(rng, 5))
		} else {
			s.ChargingMode = modelarts.ChargingPostPaid
		}
		out = append(out, s)
	}
	return out
}

// fleetFamilies decides the family of each server by quota, then shuffles:
// about 5% SPOD and 15% supernode (HPS) members once the fleet has 8 or more
// servers, the rest SERVER spread by serverFamilyWeights with at least one
// of each SERVER family when there is room.
func fleetFamilies(rng *rand.Rand, size int) []*family {
	var spod, hps int
	if size >= 8 {
		spod = max(1, size/20)
		hps = max(2, size*3/20)
	}
	rest := size - spod - hps
	fams := make([]*family, 0, size)
	for range spod {
		fams = append(fams, &famSPOD)
	}
	// Guarantee the mix first, then fill by weight.
	for _, fw := range serverFamilyWeights {
		if rest == 0 {
			break
		}
		fams = append(fams, fw.f)
		rest--
	}
	total := 0
	for _, fw := range serverFamilyWeights {
		total += fw.w
	}
	for range rest {
		n := rng.IntN(total)
		for _, fw := range serverFamilyWeights {
			if n < fw.w {
				fams = append(fams, fw.f)
				break
			}
			n -= fw.w
		}
	}
	rng.Shuffle(len(fams), func(i, j int) { fams[i], fams[j] = fams[j], fams[i] })
	// HPS members go in after the shuffle, in runs, so a supernode's members
	// are created one after another like a real supernode.
	if hps > 0 {
		out := make([]*family, 0, size)
		runs := (hps + 3) / 4
		positions := make(map[int]int, runs) // insert before index → members
		left := hps
		for range runs {
			n := min(4, left)
			left -= n
			positions[rng.IntN(len(fams)+1)] += n
		}
		for i := 0; i <= len(fams); i++ {
			for range positions[i] {
				out = append(out, &famHPS)
			}
			if i < len(fams) {
				out = append(out, fams[i])
			}
		}
		fams = out
	}
	return fams
}

// fleetStates gives each server its initial state: a few failure states
// (one of each for a 40-server fleet, two of each for 80, then about 2% of
// larger fleets), then about 65% RUNNING and 35% STOPPED, shuffled.
func fleetStates(rng *rand.Rand, size int) []modelarts.Status {
	failed := size / 8
	if size > 80 {
		failed = 10 + (size-80)/50
	}
	states := make([]modelarts.Status, 0, size)
	for i := range failed {
		states = append(states, failureStates[i%len(failureStates)])
	}
	rest := size - failed
	running := (rest*65 + 50) / 100
	for i := range rest {
		if i < running {
			states = append(states, modelarts.StatusRunning)
		} else {
			states = append(states, modelarts.StatusStopped)
		}
	}
	rng.Shuffle(len(states), func(i, j int) { states[i], states[j] = states[j], states[i] })
	return states
}

// fleetPrepaid marks about a quarter of the servers yearly/monthly.
func fleetPrepaid(rng *rand.Rand, size int) []bool {
	pre := make([]bool, size)
	for i := range size / 4 {
		pre[i] = true
	}
	rng.Shuffle(len(pre), func(i, j int) { pre[i], pre[j] = pre[j], pre[i] })
	return pre
}

// pickImage chooses the image a server was created with: usually an ACTIVE
// image of its type and architecture, now and then a since-retired one.
func pickImage(rng *rand.Rand, images []modelarts.ServerImageResponse, st modelarts.ServerType, arch modelarts.Arch) modelarts.ServerImageResponse {
	var active, inactive []modelarts.ServerImageResponse
	for _, img := range images {
		if img.ServerType != st || img.Arch != arch {
			continue
		}
		if img.Status == modelarts.ImageActive {
			active = append(active, img)
		} else {
			inactive = append(inactive, img)
		}
	}
	if len(inactive) > 0 && rng.IntN(10) == 0 {
		return inactive[rng.IntN(len(inactive))]
	}
	return active[rng.IntN(len(active))]
}

// generateVolumes gives a server its ROOT disk and up to f.maxData DATA disks.
func generateVolumes(rng *rand.Rand, f *family) []modelarts.ServerVolume {
	rootSizes := []int{100, 150, 200, 300}
	dataSizes := []int{200, 500, 800, 1024}
	dataEVS := []modelarts.EVSType{modelarts.EVSSAS, modelarts.EVSSATA, modelarts.EVSGPSSD, modelarts.EVSSSD, modelarts.EVSESSD}
	vols := []modelarts.ServerVolume{{
		Size:    rootSizes[rng.IntN(len(rootSizes))],
		Type:    modelarts.VolumeRoot,
		EVSType: f.rootEVS[rng.IntN(len(f.rootEVS))],
		EVSID:   newUUID(rng),
	}}
	for range rng.IntN(f.maxData + 1) {
		vols = append(vols, modelarts.ServerVolume{
			Size:    dataSizes[rng.IntN(len(dataSizes))],
			Type:    modelarts.VolumeData,
			EVSType: dataEVS[rng.IntN(len(dataEVS))],
			EVSID:   newUUID(rng),
		})
	}
	return vols
}

// nextIP hands out the next private address of the network's /16.
func (n *network) nextIP() string {
	k := n.next
	n.next++
	return fmt.Sprintf("%s.%d.%d", n.prefix, (k/250)%256, k%250+2)
}

// shortFlavor turns a flavor into a name fragment: "ascend-snt9b.8xlarge.32"
// → "snt9b", "c7.2xlarge.4" → "c7".
func shortFlavor(flavor string) string {
	base := flavor
	for i := 0; i < len(base); i++ {
		if base[i] == '.' {
			base = base[:i]
			break
		}
	}
	for _, p := range []string{"ascend-", "gpu-", "physical"} {
		if len(base) > len(p) && base[:len(p)] == p {
			return base[len(p):]
		}
	}
	if base == "physical" {
		return "bms"
	}
	return toLowerASCII(base)
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// newUUID draws an RFC 4122 version-4 UUID, lower case, from rng.
func newUUID(rng *rand.Rand) string {
	var b [16]byte
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const alnumUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randAlnum(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnumUpper[rng.IntN(len(alnumUpper))]
	}
	return string(b)
}
