package httpapi

import (
	"context"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	swaggerFiles "github.com/swaggo/files/v2"
	ginSwagger "github.com/swaggo/gin-swagger"
	"golang.org/x/net/webdav"

	"invoices/docs"
)

// openAPIPath is where Swagger UI loads the document from.
const openAPIPath = "/api/doc.json"

// swaggerUI serves Swagger UI under /api/ and, at /api/doc.json, the
// OpenAPI 3.0 document. gin-swagger would answer doc.json itself with a
// document registered with swag at init, which only swag's generated Go
// output does; make docs writes no Go (it converts swag's JSON to OpenAPI
// 3.0), so the document is answered here, before gin-swagger sees it.
func swaggerUI() gin.HandlerFunc {
	ui := ginSwagger.WrapHandler(swaggerAssets(), ginSwagger.URL(openAPIPath))
	return func(c *gin.Context) {
		switch p := "/api" + c.Param("any"); {
		case p == openAPIPath:
			serveOpenAPI(c)
		case strings.HasSuffix(p, "/doc.json"):
			// gin-swagger takes any .../doc.json for its own and would
			// answer 500 for want of a registered document.
			c.String(http.StatusNotFound, http.StatusText(http.StatusNotFound))
		default:
			ui(c)
		}
	}
}

// serveOpenAPI answers with the embedded OpenAPI 3.0 document
// (docs/openapi.json).
func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json; charset=utf-8", docs.OpenAPI)
}

// swaggerAssets serves Swagger UI's files to gin-swagger from swaggo/files/v2,
// which embeds them: they stay in the binary and are read when served.
// swaggo/files v1 copied every one into an in-memory file system at start-up,
// 7 MiB of heap and 17 MiB of resident memory in a process that may never
// serve /api. gin-swagger takes a *webdav.Handler, so this adapts the
// embedded files to a read-only webdav.FileSystem.
func swaggerAssets() *webdav.Handler {
	return &webdav.Handler{FileSystem: readOnlyFS{http.FS(swaggerFiles.FS)}, LockSystem: webdav.NewMemLS()}
}

// readOnlyFS is a webdav.FileSystem over an http.FileSystem that refuses
// every change.
type readOnlyFS struct{ fs http.FileSystem }

func (readOnlyFS) Mkdir(context.Context, string, os.FileMode) error { return os.ErrPermission }
func (readOnlyFS) RemoveAll(context.Context, string) error          { return os.ErrPermission }
func (readOnlyFS) Rename(context.Context, string, string) error     { return os.ErrPermission }

func (r readOnlyFS) OpenFile(_ context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, os.ErrPermission
	}
	f, err := r.fs.Open(name)
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f}, nil
}

func (r readOnlyFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	f, err := r.OpenFile(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	return f.Stat()
}

// readOnlyFile is an http.File that refuses writes, as webdav.File needs.
type readOnlyFile struct{ http.File }

func (readOnlyFile) Write([]byte) (int, error) { return 0, os.ErrPermission }
