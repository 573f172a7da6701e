// --estargz-record-in: the record file ctr-remote's optimize writes gives the list ctr-remote's
// convert reads from it (paths in first-seen order, each once), so both tools prioritise alike.
import { describe, expect, it } from 'vitest'
import { parseRecordFile } from '../../src/estargz/record.js'
import { UsageError } from '../../src/errors.js'

describe('parseRecordFile', () => {
  it('reads a record file: one JSON entry per line, paths once each, in order', () => {
    const text = [
      '{"path":"usr/bin/python3.11","manifestDigest":"sha256:aa","layerIndex":1}',
      '{"path":"etc/ld.so.cache","manifestDigest":"sha256:aa","layerIndex":0}',
      '{"path":"usr/bin/python3.11","manifestDigest":"sha256:aa","layerIndex":1}',
      '',
    ].join('\n')
    expect(parseRecordFile(text, 'rec.json')).toEqual(['usr/bin/python3.11', 'etc/ld.so.cache'])
  })

  it('reads a plain list, one path per line', () => {
    expect(parseRecordFile(' a/b \n\nc\na/b\n', 'list.txt')).toEqual(['a/b', 'c'])
  })

  it('names the line of a broken record entry', () => {
    expect(() => parseRecordFile('{"path":"a"}\n{"path":\n', 'rec.json')).toThrow(UsageError)
    expect(() => parseRecordFile('{"path":"a"}\n{"path":\n', 'rec.json')).toThrow(/rec\.json:2: not a JSON record entry/)
    expect(() => parseRecordFile('{"layerIndex":0}\n', 'rec.json')).toThrow(/rec\.json:1: the record entry has no "path"/)
  })
})
