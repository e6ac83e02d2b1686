package httpauth_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/statefulroute/sfotel/exporters/httpauth"
)

// Protect guards /metrics and the debug endpoints alike.
func ExampleProtect() {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "# metrics") })
	protected, err := httpauth.Protect(mux, httpauth.WithBearerToken("s3cret-scrape-token"))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(protected)
	defer srv.Close()

	for _, auth := range []string{"", "Bearer s3cret-scrape-token"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println(resp.Status)
	}
	// Output:
	// 401 Unauthorized
	// 200 OK
}
