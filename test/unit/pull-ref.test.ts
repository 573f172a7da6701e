import { describe, expect, it } from 'vitest'
import { base58btc } from 'multiformats/bases/base58'
import { identity } from 'multiformats/hashes/identity'
import { UsageError } from '../../src/errors.js'
import { deriveKey, ipnsNameForRef, libp2pPublicKey } from '../../src/ipfs/ipns-key.js'
import { cidText } from '../../src/ipfs/cid.js'
import { parsePullRef, type PullRef } from '../../src/ipfs/ref.js'

const cid = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'
const cidV0 = 'QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB'
const keyName = ipnsNameForRef('example.com/app:1')
/** The same key as a legacy base58 peer ID, the form `ipfs id` prints. */
const peerId = base58btc.baseEncode(identity.digest(libp2pPublicKey(deriveKey('example.com/app:1').publicKey)).bytes)
const forms = 'expected a CID, ipfs://CID, /ipfs/CID, /ipns/NAME, ipns://NAME, or an image reference NAME:TAG or NAME@sha256:DIGEST'

function refusal(input: string): string {
  try {
    parsePullRef(input)
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError)
    return (err as Error).message
  }
  throw new Error(`"${input}" was accepted`)
}

function text(ref: PullRef): string {
  switch (ref.kind) {
    case 'cid': return `cid ${cidText(ref.cid)}`
    case 'ipns': return `ipns ${ref.name}`
    case 'ref': return `ref ${ref.ref}`
  }
}

describe('what rpull takes', () => {
  it('a CID in each of its spellings', () => {
    for (const form of [cid, `ipfs://${cid}`, `/ipfs/${cid}`, `/ipfs/${cid}/`, ` ${cid} `]) expect(text(parsePullRef(form))).toBe(`cid ${cid}`)
    expect(parsePullRef(cidV0).kind).toBe('cid')
  })

  it('an IPNS key name, peer ID or DNSLink domain after /ipns/ or ipns://', () => {
    expect(peerId).toMatch(/^12D3KooW/)
    for (const name of [keyName, peerId, cidV0, 'example.com', 'docs.ipfs.tech']) {
      expect(text(parsePullRef(`/ipns/${name}`))).toBe(`ipns ${name}`)
      expect(text(parsePullRef(`ipns://${name}`))).toBe(`ipns ${name}`)
    }
  })

  it('an image reference with a tag or digest, kept as typed', () => {
    for (const ref of ['embedded.test/app:1', 'alpine:3', `app@sha256:${'a'.repeat(64)}`, 'localhost:5000/a/b:c', 'bafyish:1']) {
      expect(text(parsePullRef(ref))).toBe(`ref ${ref}`)
    }
  })
})

describe('what rpull refuses before contacting anything', () => {
  it.each([
    ['notacid', /^"notacid" is neither a CID nor an image reference: a name alone names no image, it needs a tag or a digest; /],
    ['bafy!!!', /^"bafy!!!" starts like a CID but does not parse as one \(truncated or mistyped\?\); /],
    [cid.slice(0, -1), /starts like a CID but does not parse as one \(truncated or mistyped\?\)/],
    [cidV0.slice(0, -1), /starts like a CID but does not parse as one/],
    ['../../etc/passwd', /^"\.\.\/\.\.\/etc\/passwd" is neither a CID nor an image reference: "\.\." is neither a registry HOST\[:PORT\] nor a path component; /],
    ['BAD REF:1', /is neither a CID nor an image reference: "BAD REF" is not a path component/],
    ['App:1', /repository path "App" must be lowercase/],
    [`/ipfs/${cid.slice(0, -1)}`, /after \/ipfs\/, which is not a CID \(truncated or mistyped\?\)/],
    ['ipfs://notacid', /"notacid" after ipfs:\/\/, which is not a CID; /],
    ['/ipfs/', /"" after \/ipfs\/, which is not a CID/],
    ['/ipns/', /is not \/ipns\/NAME with one key name/],
    [`/ipns/${keyName}/etc`, /is not \/ipns\/NAME with one key name/],
    [`/ipns/${cid}`, /names content, not a key: pull \/ipfs\/bafkrei/],
    [`/ipns/${keyName.slice(0, -1)}`, /starts like an IPNS key name but does not parse \(truncated or mistyped\?\)/],
    [`ipns://${peerId.slice(0, -3)}`, /starts like an IPNS key name but does not parse/],
    ['/ipns/../../etc/passwd', /is not \/ipns\/NAME/],
    ['/ipns/localhost', /"localhost", which is neither an IPNS key name \(k51…\) nor a DNSLink domain/],
    ['ipns://exa_mple.com', /neither an IPNS key name/],
    ['   ', /^no image given: /],
  ])('%j, quoting it and listing the forms', (input, why) => {
    const message = refusal(input)
    expect(message).toMatch(why)
    if (input.trim() !== '') expect(message.startsWith(`"${input}" `)).toBe(true)
    expect(message.endsWith(forms)).toBe(true)
    expect(message).not.toContain('\n')
  })
})
