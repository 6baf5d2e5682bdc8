package web

// routes registers every route. The URL map of the console reads here, in one
// place; each resource file holds its own register function and handlers.
func (s *Server) routes() {
	e := s.e
	s.registerHealthRoutes(e)
	s.registerStaticRoutes(e)
}
