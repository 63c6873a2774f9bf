#!/bin/sh
# A deliberately raw web app for the router's tests: busybox nc runs a copy
# of this script per connection (`nc -ll -p $PORT -e`), which reads the
# request heads that connection carries, in turn, and answers each with
# exactly the bytes its path names: well-formed answers identify the
# connection and the request; the others are framed ambiguously, or send
# bytes where none are due.
cr=$(printf '\r')
# A whole second response, where a reader that misframes would take it for
# the answer to the next request.
smuggled='HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED'
n=0
while read -r method path version; do
  length=0
  header_bytes=0
  while read -r line; do
    line=${line%"$cr"}
    [ -z "$line" ] && break
    header_bytes=$((header_bytes + ${#line}))
    case "$line" in
      [Cc]ontent-[Ll]ength:*) length=$((${line#*:})) ;;
    esac
  done
  [ "$length" -gt 0 ] && dd bs=1 count="$length" of=/dev/null 2>/dev/null
  n=$((n + 1))
  body="conn=$$ n=$n method=$method path=$path header_bytes=$header_bytes"
  case "$path" in
    /conflicting-lengths)
      printf "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello$smuggled" ;;
    /length-list)
      printf "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello$smuggled" ;;
    /signed-length)
      printf "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello$smuggled" ;;
    /negative-length)
      printf "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello$smuggled" ;;
    /gzip-beside-length)
      printf "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello$smuggled" ;;
    /chunked-beside-length)
      printf "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n$smuggled" ;;
    /chunked-in-http10)
      printf "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n$smuggled" ;;
    /no-content)
      printf 'HTTP/1.1 204 No Content\r\nX-Request: %s\r\n\r\n' "$n" ;;
    /not-modified)
      printf 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\n' ;;
    /no-content-with-body)
      printf "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello$smuggled" ;;
    /not-modified-with-body)
      printf "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 5\r\n\r\nhello$smuggled" ;;
    /no-content-then-late-bytes)
      printf 'HTTP/1.1 204 No Content\r\n\r\n'
      sleep 0.5
      printf "$smuggled" ;;
    *)
      if [ "$method" = HEAD ]; then
        # The head a GET would get; a body only when the path asks for one
        # (which a HEAD answer must never have).
        case "$path" in
          /with-body*) printf "HTTP/1.1 200 OK\r\nContent-Length: ${#body}\r\n\r\n$body$smuggled" ;;
          *) printf 'HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n' "${#body}" ;;
        esac
      else
        printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\n\r\n%s' "${#body}" "$body"
      fi ;;
  esac
done
