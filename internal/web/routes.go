package web

// routes registers every route. The URL map of the console reads here, in one
// place; each resource file holds its own register function and handlers.
func (s *Server) routes() {
	e := s.e
	s.registerHealthRoutes(e)
	s.registerStaticRoutes(e)
	s.registerSignInRoutes(e)
	s.registerUserRoutes(e)
	s.registerAccountRoutes(e)
	s.registerServerRoutes(e.Group(""))
	s.registerActionRoutes(e.Group(""))
	s.registerBatchRoutes(e.Group(""))
	s.registerAuditRoutes(e.Group(""))
	s.registerApprovalRoutes(e.Group(""))
}
