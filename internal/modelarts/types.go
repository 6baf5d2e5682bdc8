// Package modelarts is a typed client for the Huawei Cloud ModelArts DevServer
// (Lite Server) API: the request and response shapes, the batch-action
// validation rules, the DevServer lifecycle, request signing and the HTTP client.
package modelarts

// BatchType is the operation a batch request performs on every listed server.
type BatchType string

// The batch operation types of POST /v1/{project_id}/dev-servers/action.
const (
	BatchStart       BatchType = "START"
	BatchStop        BatchType = "STOP"
	BatchReboot      BatchType = "REBOOT"
	BatchChangeOS    BatchType = "CHANGEOS"
	BatchReinstallOS BatchType = "REINSTALLOS"
	BatchDelete      BatchType = "DELETE"
)

// BatchTypes lists every batch type in the order the API page gives them.
var BatchTypes = []BatchType{BatchStart, BatchStop, BatchReboot, BatchChangeOS, BatchReinstallOS, BatchDelete}

// Valid reports whether t is one of the documented batch types.
func (t BatchType) Valid() bool {
	for _, v := range BatchTypes {
		if t == v {
			return true
		}
	}
	return false
}

// Destructive reports whether the action loses data or cannot be undone, and
// so needs a typed confirmation from the operator.
func (t BatchType) Destructive() bool {
	return t == BatchDelete || t == BatchReinstallOS || t == BatchChangeOS
}

// NeedsOSParams reports whether the action takes extend_param.
func (t BatchType) NeedsOSParams() bool {
	return t == BatchChangeOS || t == BatchReinstallOS
}

// Status is a DevServer instance status.
type Status string

// All 18 DevServer statuses.
const (
	StatusCreateFailed         Status = "CREATE_FAILED"
	StatusCreating             Status = "CREATING"
	StatusDeleted              Status = "DELETED"
	StatusDeleteFailed         Status = "DELETE_FAILED"
	StatusDeleting             Status = "DELETING"
	StatusError                Status = "ERROR"
	StatusRunning              Status = "RUNNING"
	StatusStarting             Status = "STARTING"
	StatusStartFailed          Status = "START_FAILED"
	StatusStopped              Status = "STOPPED"
	StatusStopping             Status = "STOPPING"
	StatusStopFailed           Status = "STOP_FAILED"
	StatusRebooting            Status = "REBOOTING"
	StatusRebootFailed         Status = "REBOOT_FAILED"
	StatusChangingOS           Status = "CHANGINGOS"
	StatusChangingOSFailed     Status = "CHANGINGOS_FAILED"
	StatusReinstallingOS       Status = "REINSTALLINGOS"
	StatusReinstallingOSFailed Status = "REINSTALLINGOS_FAILED"
)

// Statuses lists all 18 statuses.
var Statuses = []Status{
	StatusCreateFailed, StatusCreating, StatusDeleted, StatusDeleteFailed, StatusDeleting,
	StatusError, StatusRunning, StatusStarting, StatusStartFailed, StatusStopped, StatusStopping,
	StatusStopFailed, StatusRebooting, StatusRebootFailed, StatusChangingOS, StatusChangingOSFailed,
	StatusReinstallingOS, StatusReinstallingOSFailed,
}

var statusLabels = map[Status]string{
	StatusCreateFailed:         "Create failed",
	StatusCreating:             "Creating",
	StatusDeleted:              "Deleted",
	StatusDeleteFailed:         "Delete failed",
	StatusDeleting:             "Deleting",
	StatusError:                "Error",
	StatusRunning:              "Running",
	StatusStarting:             "Starting",
	StatusStartFailed:          "Start failed",
	StatusStopped:              "Stopped",
	StatusStopping:             "Stopping",
	StatusStopFailed:           "Stop failed",
	StatusRebooting:            "Rebooting",
	StatusRebootFailed:         "Reboot failed",
	StatusChangingOS:           "Changing OS",
	StatusChangingOSFailed:     "Change OS failed",
	StatusReinstallingOS:       "Reinstalling OS",
	StatusReinstallingOSFailed: "Reinstall OS failed",
}

// Label is the status in plain words ("START_FAILED" → "Start failed");
// an unknown status is returned as it is.
func (s Status) Label() string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return string(s)
}

// Transient reports whether the status is an in-progress state that will
// settle by itself (CREATING, STARTING, STOPPING, REBOOTING, CHANGINGOS,
// REINSTALLINGOS, DELETING).
func (s Status) Transient() bool {
	switch s {
	case StatusCreating, StatusStarting, StatusStopping, StatusRebooting,
		StatusChangingOS, StatusReinstallingOS, StatusDeleting:
		return true
	}
	return false
}

// Failed reports whether the status is a failure outcome.
func (s Status) Failed() bool {
	switch s {
	case StatusCreateFailed, StatusError, StatusDeleteFailed, StatusStartFailed, StatusStopFailed,
		StatusRebootFailed, StatusChangingOSFailed, StatusReinstallingOSFailed:
		return true
	}
	return false
}

// ChargingMode is how a server is billed.
type ChargingMode string

// Charging modes.
const (
	ChargingCommon   ChargingMode = "COMMON"
	ChargingPostPaid ChargingMode = "POST_PAID"
	ChargingPrePaid  ChargingMode = "PRE_PAID"
)

// Category is the kind of DevServer.
type Category string

// Categories.
const (
	CategoryHPS    Category = "HPS"    // supernode server
	CategorySPOD   Category = "SPOD"   // full-cabinet server
	CategoryServer Category = "SERVER" // single server
)

// ServerType is the underlying cloud resource type.
type ServerType string

// Server types.
const (
	ServerTypeBMS ServerType = "BMS"
	ServerTypeECS ServerType = "ECS"
	ServerTypeHPS ServerType = "HPS"
)

// Arch is a CPU architecture.
type Arch string

// Architectures.
const (
	ArchARM Arch = "ARM"
	ArchX86 Arch = "X86"
)

// ImageStatus is the status of a server image.
type ImageStatus string

// Image statuses.
const (
	ImageActive   ImageStatus = "ACTIVE"
	ImageInactive ImageStatus = "INACTIVE"
)

// VolumeType says whether a volume is the system disk or a data disk.
type VolumeType string

// Volume types.
const (
	VolumeRoot VolumeType = "ROOT"
	VolumeData VolumeType = "DATA"
)

// EVSType is an EVS disk type.
type EVSType string

// EVS disk types.
const (
	EVSESSD  EVSType = "ESSD"
	EVSGPSSD EVSType = "GPSSD"
	EVSSAS   EVSType = "SAS"
	EVSSATA  EVSType = "SATA"
	EVSSSD   EVSType = "SSD"
)

// DevService is a way to reach an instance.
type DevService string

// Dev services.
const (
	DevServiceNotebook DevService = "NOTEBOOK"
	DevServiceSSH      DevService = "SSH"
)

// BatchRequest is the body of POST /v1/{project_id}/dev-servers/action.
type BatchRequest struct {
	Type        BatchType        `json:"type"`
	Servers     []BatchServerID  `json:"servers"`
	ExtendParam *ServerOSRequest `json:"extend_param,omitempty"`
}

// BatchServerID names one server in a batch request (BatchActionDevServerIds).
type BatchServerID struct {
	ID string `json:"id"`
}

// ServerOSRequest carries the parameters for changing or reinstalling the OS.
type ServerOSRequest struct {
	AdminPass   string `json:"admin_pass,omitempty"`
	KeyPairName string `json:"key_pair_name,omitempty"`
	ImageID     string `json:"image_id,omitempty"`
	UserData    string `json:"user_data,omitempty"`
}

// ServerPage is the paged list returned by the list and batch APIs.
type ServerPage struct {
	Current int              `json:"current"`
	Data    []ServerResponse `json:"data"`
	Pages   int              `json:"pages"`
	Size    int              `json:"size"`
	Total   int64            `json:"total"`
}

// ServerResponse describes one DevServer instance.
type ServerResponse struct {
	CreateAt            int64                `json:"create_at,omitempty"`
	UpdateAt            int64                `json:"update_at,omitempty"`
	ChargingMode        ChargingMode         `json:"charging_mode,omitempty"`
	CloudServer         *CloudServer         `json:"cloud_server,omitempty"`
	EndpointsResponse   []Endpoints          `json:"endpoints_response,omitempty"`
	Flavor              string               `json:"flavor,omitempty"`
	ID                  string               `json:"id"`
	KeyPairName         string               `json:"key_pair_name,omitempty"`
	Name                string               `json:"name"`
	OrderID             string               `json:"order_id,omitempty"`
	ServerImageResponse *ServerImageResponse `json:"server_image_response,omitempty"`
	Status              Status               `json:"status"`
	VpcID               string               `json:"vpc_id,omitempty"`
	Endpoints           []EndpointsRes       `json:"endpoints,omitempty"`
	Volumes             []ServerVolume       `json:"volumes,omitempty"`
	Image               *ServerImageResponse `json:"image,omitempty"`
	Category            Category             `json:"category,omitempty"`
	ServerHps           *ServerHpsInfo       `json:"server_hps,omitempty"`
	SubnetID            string               `json:"subnet_id,omitempty"`
}

// ImageInfo returns the server's image, whichever of the two documented
// fields (image, or the older server_image_response) carries it.
func (s *ServerResponse) ImageInfo() *ServerImageResponse {
	if s.Image != nil {
		return s.Image
	}
	return s.ServerImageResponse
}

// Type returns the underlying server type (BMS, ECS or HPS), from
// cloud_server.type, falling back to the image's server_type.
func (s *ServerResponse) Type() ServerType {
	if s.CloudServer != nil && s.CloudServer.Type != "" {
		return s.CloudServer.Type
	}
	if img := s.ImageInfo(); img != nil {
		return img.ServerType
	}
	return ""
}

// Arch returns the server's CPU architecture from its image.
func (s *ServerResponse) Arch() Arch {
	if img := s.ImageInfo(); img != nil {
		return img.Arch
	}
	return ""
}

// PrivateIP returns the first private address from endpoints, if any.
func (s *ServerResponse) PrivateIP() string {
	for _, e := range s.Endpoints {
		if e.URI != "" {
			return e.URI
		}
	}
	return ""
}

// IsSupernode reports whether the server is a supernode (HPS) server.
func (s *ServerResponse) IsSupernode() bool {
	return s.Category == CategoryHPS || s.Type() == ServerTypeHPS
}

// CloudServer describes the underlying ECS/BMS resource.
type CloudServer struct {
	ID       string     `json:"id,omitempty"`
	Type     ServerType `json:"type,omitempty"`
	HpsID    string     `json:"hps_id,omitempty"`
	HpsEcsID string     `json:"hps_ecs_id,omitempty"`
}

// Endpoints is an access endpoint of an instance (endpoints_response).
type Endpoints struct {
	AllowedAccessIPs []string          `json:"allowed_access_ips,omitempty"`
	DevService       DevService        `json:"dev_service,omitempty"`
	Extensions       map[string]string `json:"extensions,omitempty"`
	SSHKeys          []string          `json:"ssh_keys,omitempty"`
}

// EndpointsRes is a private address of a server (endpoints).
type EndpointsRes struct {
	AllowedAccessIPs []string   `json:"allowed_access_ips,omitempty"`
	DevService       DevService `json:"dev_service,omitempty"`
	SSHKeys          []string   `json:"ssh_keys,omitempty"`
	Service          DevService `json:"service,omitempty"`
	URI              string     `json:"uri,omitempty"`
}

// ServerVolume is a disk mounted on a server.
type ServerVolume struct {
	Size    int        `json:"size,omitempty"`
	Type    VolumeType `json:"type,omitempty"`
	EVSType EVSType    `json:"evs_type,omitempty"`
	EVSID   string     `json:"evs_id,omitempty"`
}

// ServerImageResponse describes a server image.
type ServerImageResponse struct {
	Arch       Arch        `json:"arch,omitempty"`
	ImageID    string      `json:"image_id,omitempty"`
	Name       string      `json:"name,omitempty"`
	ServerType ServerType  `json:"server_type,omitempty"`
	Status     ImageStatus `json:"status,omitempty"`
}

// ServerHpsInfo names the supernode a server belongs to.
type ServerHpsInfo struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
}
