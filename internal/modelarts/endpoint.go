package modelarts

import "strings"

// EndpointForRegion returns the ModelArts endpoint of a region:
// https://modelarts.{region}.myhuaweicloud.com. The one exception, copied
// from the official SDK's region table, is ap-southeast-1 (CN-Hong Kong),
// served under .myhuaweicloud.cn. An empty region gives "".
func EndpointForRegion(region string) string {
	region = strings.ToLower(strings.TrimSpace(region))
	switch region {
	case "":
		return ""
	case "ap-southeast-1":
		return "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
	}
	return "https://modelarts." + region + ".myhuaweicloud.com"
}
